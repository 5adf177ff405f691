"""The state library: state-tuning files on this computer, which model each belongs to, and a search
of the Hub to download more.

A state-tuning file sets the starting state of a chat (a role, a style, a language) for one model
shape. The Models page's scan reads each file's header (:func:`engine.host.library.inspect_state_file`:
layers, heads, head size) and this view names the library's models of that shape, marking the
loaded one. **Use with the loaded model** applies it through the engine, which checks it in full
(:meth:`engine.models.state.State.from_tuning_file`) and refuses a file for another model with its
reason. Downloads go through the same progress and sha256 path as models.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.host import hub
from engine.host.library import FileInfo, StateFileInfo

from .hub_search import HubSearch

STATE_SUFFIXES = (".pth", ".state", ".safetensors")


class StateLibrary(QWidget):
    def __init__(self, state, endpoint: Callable[[], str | None], download: Callable[[hub.CatalogEntry], object]):
        super().__init__()
        self.state = state
        self.files: list[StateFileInfo] = []
        self.view = QTreeWidget()
        self.view.setHeaderLabels([self.tr("State-tuning file"), self.tr("Shape"), self.tr("For the models"),
                                   self.tr("Location")])
        self.view.setRootIsDecorated(False)
        self.view.header().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.view.itemActivated.connect(lambda _: asyncio.ensure_future(self.apply_selected()))
        self.apply_button = QPushButton(self.tr("Use with the loaded model"),
                                        clicked=lambda: asyncio.ensure_future(self.apply_selected()))
        self.view.currentItemChanged.connect(lambda *_: self._update_apply())
        state.modelChanged.connect(self._update_apply)
        self.note = QLabel(self.tr("State-tuning files found in the download folder and your model folders."))
        self.note.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.note, 1)
        row.addWidget(self.apply_button)
        local = QWidget()
        ll = QVBoxLayout(local)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.view, 1)
        ll.addLayout(row)
        self.search = HubSearch(endpoint, download, suffixes=STATE_SUFFIXES, default_query="rwkv state",
                                caption=self.tr("Find state-tuning files that the list above does not have; files "
                                                "are checked against the sha256 the Hub lists for them."))
        split = QSplitter(Qt.Vertical)
        split.addWidget(local)
        split.addWidget(self.search)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split)
        self._update_apply()

    def _update_apply(self) -> None:
        """**Use with the loaded model** is on with a file selected and a model on this computer loaded;
        off, its tooltip says which is missing."""
        model = self.state.model
        if self.view.currentItem() is None:
            why = self.tr("Select a state-tuning file in the list first")
        elif model is None:
            why = self.tr("Load the model this state belongs to first")
        elif model.is_remote:        # the engine says why (as File ▸ State tuning does)
            why = model.unavailable("tuning") or self.tr("Load the model this state belongs to first")
        else:
            why = None
        self.apply_button.setEnabled(why is None)
        self.apply_button.setToolTip(why or self.tr("New chats start from this state (File ▸ Clear state tuning "
                                                    "undoes it)"))

    def show_states(self, states: list[StateFileInfo], models: list[tuple[Path, FileInfo]]) -> None:
        """List ``states``, each with the library's models of its shape (the loaded one marked)."""
        self.files = states
        loaded = self.state.model
        loaded_path = Path(loaded.path).resolve() if loaded is not None and not loaded.is_remote else None
        current = self.view.currentItem()
        selected = current.data(0, Qt.UserRole) if current is not None else None
        self.view.clear()
        for info in states:
            owners = [(path, m) for path, m in models if info.fits(m)]
            names = [path.stem if not path.is_dir() else path.name for path, _ in owners]
            names = [n + (self.tr(" (loaded)") if loaded_path == p.resolve() else "")
                     for n, (p, _) in zip(names, owners, strict=True)]
            gen = f"RWKV-{info.named_generation}, " if info.named_generation else ""
            item = QTreeWidgetItem([info.path.name, self.tr("{gen}{layers} layers × {width}").format(
                gen=gen, layers=info.n_layer, width=info.n_embd), ", ".join(names) or
                self.tr("no model here has this shape"), str(info.path.parent)])
            item.setData(0, Qt.UserRole, str(info.path))
            item.setToolTip(2, self.tr("Models with {layers} layers of width {width} ({heads} heads of {size})")
                            .format(layers=info.n_layer, width=info.n_embd, heads=info.n_head, size=info.head_size))
            self.view.addTopLevelItem(item)
            if str(info.path) == selected:
                self.view.setCurrentItem(item)
        self._update_apply()

    async def apply_selected(self) -> bool:
        item = self.view.currentItem()
        if item is None:
            return False
        if self.state.model is None or self.state.model.is_remote:
            self.state.status.emit(self.tr("Load the model this state belongs to first"), 8000)
            return False
        return await self.state.apply_tuning(item.data(0, Qt.UserRole))
