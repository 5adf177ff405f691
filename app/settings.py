"""The app's own settings (window geometry, last model and conversation), as one JSON file written
atomically, so a crash never leaves half a file."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from engine.atomic import atomic_write_bytes


class Settings:
    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            self._data: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(self._data, dict):
                raise ValueError("not a JSON object")
        except OSError:
            self._data = {}       # missing: the defaults
        except ValueError:        # damaged: set it aside (never overwritten) and start from the defaults
            self._data = {}
            stamp = time.strftime("%Y%m%d-%H%M%S")
            try:
                os.replace(self.path, self.path.with_name(f"{self.path.name}.damaged-{stamp}"))
            except OSError:
                pass

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def set(self, key: str, value: Any) -> None:
        if self._data.get(key) != value:
            self._data[key] = value
            atomic_write_bytes(self.path, json.dumps(self._data, indent=1).encode())
