"""A conversation's checkpoints on a memory budget: the newest few in RAM, the rest on disk.

Every turn leaves a state behind (megabytes on a real model), and a long chat has thousands of
turns; keeping them all in RAM grew memory by the state size per turn. Here only states that are
not yet on disk, the initial state, and the ``keep`` most recently used others stay in memory;
anything else is read back from the store when a regenerate, edit or branch switch needs it.

A state file that cannot be read (damaged, written for other weights, deleted) counts as missing:
the chat then rebuilds that checkpoint from the nearest earlier one, and the service writes the
rebuilt state back, so the conversation heals instead of failing.
"""

from __future__ import annotations

import logging
from collections import OrderedDict

from engine.errors import EngineError
from engine.models.model import Model
from engine.models.state import State
from engine.service.store import ConversationStore

log = logging.getLogger(__name__)

KEEP_IN_RAM = 3


class DiskCheckpoints:
    """:class:`engine.text.chat.Checkpoints` for one stored conversation."""

    def __init__(self, store: ConversationStore, conv_id: int, model: Model, initial: State,
                 keep: int = KEEP_IN_RAM):
        self.store, self.conv_id, self.model, self.keep = store, conv_id, model, keep
        self._initial = initial
        self._ram: OrderedDict[int, State] = OrderedDict()
        self._unsaved: set[int] = set()

    def get(self, message_id: int) -> State | None:
        if message_id == 0:
            return self._initial
        state = self._ram.get(message_id)
        if state is not None:
            self._ram.move_to_end(message_id)
            return state
        try:
            state = self.store.load_checkpoint(self.conv_id, message_id, self.model)
        except (EngineError, OSError) as e:
            log.warning("conversation %s: the state after message %s cannot be used (%s); it will be "
                        "rebuilt from an earlier one", self.conv_id, message_id, e)
            return None
        if state is not None:
            self._ram[message_id] = state
            self._trim()
        return state

    def put(self, message_id: int, state: State) -> None:
        if message_id == 0:
            self._initial = state
            return
        self._ram[message_id] = state
        self._ram.move_to_end(message_id)
        self._unsaved.add(message_id)
        self._trim()

    def discard(self, message_id: int) -> None:
        self._ram.pop(message_id, None)
        self._unsaved.discard(message_id)

    def unsaved(self) -> list[int]:
        """Messages whose state is only in memory (the service writes them at the end of a step)."""
        return sorted(self._unsaved)

    def saved(self, message_id: int) -> None:
        """The state of ``message_id`` is on disk now: it may leave memory."""
        self._unsaved.discard(message_id)
        self._trim()

    def in_ram(self) -> int:
        """How many states (besides the initial one) are held in memory."""
        return len(self._ram)

    def _trim(self) -> None:
        spare = len(self._ram) - len(self._unsaved) - self.keep
        for message_id in list(self._ram):
            if spare <= 0:
                break
            if message_id not in self._unsaved:
                del self._ram[message_id]
                spare -= 1
