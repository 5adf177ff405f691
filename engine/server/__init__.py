"""The local OpenAI-compatible HTTP server, a client of the engine service (see ``docs/server.md``).

``create_app(service, ...)`` is the ASGI app; ``serve(service, ...)`` runs it until Ctrl+C;
``ServerThread(service, ...).start()`` runs it in the background (a window, tests); ``on_request``
(an option of all three) is told of every answered request as a :class:`RequestRecord`.
"""

from engine.server.app import create_app
from engine.server.records import RequestRecord
from engine.server.runner import ServerConfigError, ServerThread, serve

__all__ = ["RequestRecord", "ServerConfigError", "ServerThread", "create_app", "serve"]
