"""Deployment-wide schedules: sleep windows."""
