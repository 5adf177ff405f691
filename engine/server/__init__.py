"""The local OpenAI-compatible HTTP server, a client of the engine service (see ``docs/server.md``).

``create_app(service, ...)`` is the ASGI app; ``serve(service, ...)`` runs it until Ctrl+C;
``ServerThread(service, ...).start()`` runs it in the background (a window, tests).
"""

from engine.server.app import create_app
from engine.server.runner import ServerConfigError, ServerThread, serve

__all__ = ["ServerConfigError", "ServerThread", "create_app", "serve"]
