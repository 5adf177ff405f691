"""The engine as a service: one thread owns the model and every conversation; clients send commands
and receive immutable events (see :mod:`engine.service.service`).

``from engine.service import EngineService, commands, events`` is the whole surface a client needs.
"""

from engine.service import commands, events
from engine.service.openai_http import Listing, RemoteError
from engine.service.openai_http import list_models as list_remote_models
from engine.service.remote import mask as mask_key
from engine.service.service import EngineService
from engine.service.store import DamagedStoreError, StoreError, UnwritableFolderError, set_aside
from engine.service.views import ChatSettings, ConversationSummary, ConversationView, MessageView, ModelView

__all__ = ["ChatSettings", "ConversationSummary", "ConversationView", "DamagedStoreError", "EngineService",
           "Listing", "MessageView", "ModelView", "RemoteError", "StoreError", "UnwritableFolderError", "commands",
           "events", "list_remote_models", "mask_key", "set_aside"]
