"""A small local Azure Functions host (Core Tools cannot be installed everywhere).

It loads `function_app.app`, reads the registered triggers and drives the same handlers:
HTTP routes (host.py -> http.py, routes.py, server.py), NCRONTAB/TimeSpan timers
(timers.py, schedule.py, timespan.py) and Storage queue triggers with the real host's
semantics (queues.py). Settings and host.json: settings.py, config.py.
"""

from sandbox.host.errors import HostError
from sandbox.host.host import DEFAULT_PORT, LocalHost

__all__ = ["DEFAULT_PORT", "HostError", "LocalHost"]
