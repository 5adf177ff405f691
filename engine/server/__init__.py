"""The local OpenAI-compatible HTTP server, a client of the engine service (see ``docs/server.md``).

``create_app(service, ...)`` is the ASGI app; ``serve(service, ...)`` runs it until Ctrl+C;
``ServerThread(service, ...).start()`` runs it in the background (a window, tests); ``on_request``
(an option of all three) is told of every answered request as a :class:`RequestRecord`, and
``hints`` (:class:`Hints`) words what a refusal tells whoever runs the server to change.
"""

from engine.server.app import create_app
from engine.server.guard import Hints
from engine.server.records import RequestRecord
from engine.server.runner import ServerConfigError, ServerThread, serve

__all__ = ["Hints", "RequestRecord", "ServerConfigError", "ServerThread", "create_app", "serve"]
