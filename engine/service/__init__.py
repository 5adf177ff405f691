"""The engine as a service: one thread owns the model and every conversation; clients send commands
and receive immutable events (see :mod:`engine.service.service`).

``from engine.service import EngineService, commands, events`` is the whole surface a client needs.
"""

from engine.service import commands, events
from engine.service.service import EngineService
from engine.service.store import DamagedStoreError, StoreError, UnwritableFolderError, set_aside
from engine.service.views import ChatSettings, ConversationSummary, ConversationView, MessageView, ModelView

__all__ = ["ChatSettings", "ConversationSummary", "ConversationView", "DamagedStoreError", "EngineService",
           "MessageView", "ModelView", "StoreError", "UnwritableFolderError", "commands", "events", "set_aside"]
