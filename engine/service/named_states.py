"""States a completion can start from or be kept as, by name: states saved by earlier requests
(``save_as``) and the state-tuning files of a folder the server was given.

A name comes from a request, so it is checked to be a name and never used as a path: letters,
digits, ``.``, ``_`` and ``-``, starting with a letter or digit, at most 64 characters; a saved
state is ``<name>.safetensors`` in the service's own folder, a tuning file is looked up among the
files that are in the tuning folder.
"""

from __future__ import annotations

import re
from pathlib import Path

from engine.errors import EngineError
from engine.models.model import Model
from engine.models.state import State

TUNING_SUFFIXES = (".pth", ".state", ".safetensors")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class UnknownStateError(EngineError):
    """A request named a state the service does not have (or something that is not a name)."""


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name) or ".." in name:
        raise UnknownStateError("'{name}' is not a state name: use 1 to 64 letters, digits, '.', '_' or '-', "
                                "starting with a letter or digit.", name=name)
    return name


class NamedStates:
    def __init__(self, folder: Path, tuning_dir: Path | None = None):
        self.folder = Path(folder)
        self.tuning_dir = Path(tuning_dir) if tuning_dir is not None else None

    def names(self) -> list[str]:
        """Saved states, then state-tuning files (safe from any thread: it only lists folders)."""
        saved = sorted(p.stem for p in self.folder.glob("*.safetensors")) if self.folder.is_dir() else []
        return saved + sorted(self._tuning_files())

    def load(self, name: str, model: Model) -> State:
        check_name(name)
        saved = self.folder / f"{name}.safetensors"
        if saved.is_file():
            return State.load(saved, model)
        tuning = self._tuning_files().get(name)
        if tuning is not None:
            return State.from_tuning_file(tuning, model)
        raise UnknownStateError("There is no state named '{name}' (known: {known}).",
                                name=name, known=", ".join(self.names()) or "none")

    def save(self, name: str, state: State) -> None:
        check_name(name)
        self.folder.mkdir(parents=True, exist_ok=True)
        state.save(self.folder / f"{name}.safetensors", {"name": name})

    def _tuning_files(self) -> dict[str, Path]:
        if self.tuning_dir is None or not self.tuning_dir.is_dir():
            return {}
        return {p.name: p for p in self.tuning_dir.iterdir() if p.is_file() and p.suffix in TUNING_SUFFIXES}
