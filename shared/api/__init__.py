"""The control API's domain side: bodies, views, handlers and the OpenAPI description.
The HTTP triggers in functions/control.py only translate to and from azure.functions."""
