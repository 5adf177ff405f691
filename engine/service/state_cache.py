"""States of recent prompts, by their tokens, so a resent history reads only what is new.

An OpenAI client sends the whole conversation with every request. A transformer server has to
keep (or recompute) a KV cache the size of the history; RWKV's whole history is one fixed-size
state, so keeping the state after a prompt (and after its reply) is enough: the next request,
whose tokens begin with those, starts from that state and reads only the new turn.

Entries are keyed by a hash of the model's fingerprint, the starting state's name and the exact
token prefix, and looked up only at the request's message boundaries, so a hit is always the
state a full read would reach (a reply is identical with the cache on or off). The newest states
stay in RAM up to a budget; older ones are written to disk (up to a second budget) and read back
on a hit; the oldest on disk are deleted. Files are named by the hash, never by anything a request
sent.
"""

from __future__ import annotations

import hashlib
import logging
import struct
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

from engine.errors import EngineError
from engine.models.model import Model
from engine.models.state import State

log = logging.getLogger(__name__)
MAX_LENGTHS = 256


class StateCache:
    def __init__(self, folder: Path, ram_bytes: int, disk_bytes: int | None = None):
        self.folder = Path(folder)
        self.ram_bytes = ram_bytes
        self.disk_bytes = 4 * ram_bytes if disk_bytes is None else disk_bytes
        self._ram: OrderedDict[str, State] = OrderedDict()
        self._disk: OrderedDict[str, int] = OrderedDict()      # key -> file size, oldest first
        self._lengths: OrderedDict[int, None] = OrderedDict()  # token counts of recent entries (this run)
        self.hits = self.misses = 0
        self._scan()

    # -- use ---------------------------------------------------------------------------------------

    def lookup(self, model: Model, start: str, tokens: Sequence[int], boundaries: Sequence[int]
               ) -> tuple[int, State | None]:
        """(how many leading tokens are covered, a copy of the state after them) for the longest
        cached prefix: tried at the request's boundaries and at the lengths of the states cached in
        this run (a plain completion that resends text has one segment, yet its start may be cached);
        (0, None) if none is."""
        for end in sorted(set(boundaries) | set(self._lengths), reverse=True):
            if end <= 0 or end > len(tokens):
                continue
            key = self.key(model, start, tokens[:end])
            state = self._get(key, model)
            if state is not None:
                self.hits += 1
                return end, state.clone()
        self.misses += 1
        return 0, None

    def put(self, model: Model, start: str, tokens: Sequence[int], state: State) -> None:
        """Keep ``state`` (a copy is not made: pass one nobody changes) as the state after ``tokens``."""
        if self.ram_bytes <= 0 or not tokens:
            return
        key = self.key(model, start, tokens)
        self._lengths[len(tokens)] = None
        self._lengths.move_to_end(len(tokens))
        while len(self._lengths) > MAX_LENGTHS:            # bounds a lookup's work, not what is cached
            self._lengths.popitem(last=False)
        self._ram[key] = state
        self._ram.move_to_end(key)
        self._spill(model)

    def clear(self) -> None:
        """Forget the states in RAM (a model switch); files on disk stay, keyed by their model."""
        self._ram.clear()

    @property
    def ram_in_use(self) -> int:
        return sum(s.nbytes for s in self._ram.values())

    @staticmethod
    def key(model: Model, start: str, tokens: Sequence[int]) -> str:
        h = hashlib.sha256()
        h.update(f"{model.info.fingerprint}\0{start}\0".encode())
        h.update(struct.pack(f"<{len(tokens)}i", *tokens))
        return h.hexdigest()[:40]

    # -- inside ------------------------------------------------------------------------------------

    def _get(self, key: str, model: Model) -> State | None:
        state = self._ram.get(key)
        if state is not None:
            self._ram.move_to_end(key)
            return state
        if key not in self._disk:
            return None
        path = self._path(key)
        try:
            state = State.load(path, model)
        except (EngineError, OSError) as e:
            log.warning("state cache: dropping %s (%s)", path.name, e)
            self._drop(key)
            return None
        self._disk.move_to_end(key)
        self._ram[key] = state
        self._spill(model)
        return state

    def _spill(self, model: Model) -> None:
        """Write the least recently used states to disk until RAM is within its budget."""
        while self._ram and self.ram_in_use > self.ram_bytes:
            key, state = self._ram.popitem(last=False)
            if key in self._disk or self.disk_bytes <= 0:
                continue
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
                state.save(self._path(key), {"cache": "state"})
            except OSError as e:
                log.warning("state cache: cannot write to %s (%s)", self.folder, e)
                continue
            self._disk[key] = self._path(key).stat().st_size
            self._trim_disk()

    def _trim_disk(self) -> None:
        while self._disk and sum(self._disk.values()) > self.disk_bytes:
            self._drop(next(iter(self._disk)))

    def _drop(self, key: str) -> None:
        self._disk.pop(key, None)
        self._path(key).unlink(missing_ok=True)

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.safetensors"

    def _scan(self) -> None:
        """Files left by an earlier run (keyed by model, so still valid), oldest first."""
        if not self.folder.is_dir():
            return
        files = sorted(self.folder.glob("*.safetensors"), key=lambda p: p.stat().st_mtime)
        for path in files:
            key = path.stem
            if len(key) == 40 and all(c in "0123456789abcdef" for c in key):
                self._disk[key] = path.stat().st_size
        self._trim_disk()
        log.debug("state cache: %d states on disk (%.1f MB)", len(self._disk), sum(self._disk.values()) / 1e6)


def boundaries_of(segments: Sequence[Sequence[int]]) -> list[int]:
    """The token positions where each segment ends."""
    out, total = [], 0
    for seg in segments:
        total += len(seg)
        out.append(total)
    return out


__all__ = ["StateCache", "boundaries_of"]
