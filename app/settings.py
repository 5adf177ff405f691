"""The app's own settings (window geometry, last model and conversation), as one JSON file written
atomically, so a crash never leaves half a file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.atomic import atomic_write_bytes


class Settings:
    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            self._data: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self._data = {}       # missing or damaged: start from defaults rather than refuse to open

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def set(self, key: str, value: Any) -> None:
        if self._data.get(key) != value:
            self._data[key] = value
            atomic_write_bytes(self.path, json.dumps(self._data, indent=1).encode())
