"""The Models page's search of the Hugging Face Hub: RWKV repositories beyond the bundled catalog,
each repository's model files with their sizes, downloaded through the same progress and sha256
check as catalog files.

The search and each repository's listing run on a worker thread (:mod:`engine.host.search`); the
page's endpoint (the mirror in Settings) is read at every search, so a changed mirror applies at
once. Nothing here builds a path: the engine validated every name before it reached this view.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.errors import EngineError
from engine.host import hub, search

from .background import in_thread
from .i18n import error_text

GB = 1e9
_ENTRY = Qt.UserRole          # a file row: its CatalogEntry
_REPO = Qt.UserRole + 1       # a repository row: its id


class HubSearch(QWidget):
    """Search box, results (repositories, their files as children) and a Download button."""

    def __init__(self, endpoint: Callable[[], str | None], download: Callable[[hub.CatalogEntry], object],
                 suffixes: tuple[str, ...] = hub.MODEL_SUFFIXES, default_query: str = "rwkv7",
                 caption: str | None = None):
        """``caption``: what the search finds, shown until the first search (default: models)."""
        super().__init__()
        self._endpoint, self._download, self._suffixes = endpoint, download, suffixes
        self.query = QLineEdit(default_query)
        self.query.setPlaceholderText(self.tr("a name to search for, e.g. rwkv7, g1, world, a user name"))
        self.query.returnPressed.connect(lambda: asyncio.ensure_future(self.search()))
        self.search_button = QPushButton(self.tr("Search Hugging Face"),
                                         clicked=lambda: asyncio.ensure_future(self.search()))
        self.results = QTreeWidget()
        self.results.setHeaderLabels([self.tr("Repository / file"), self.tr("Generation"), self.tr("Parameters"),
                                      self.tr("Size"), self.tr("Downloads")])
        self.results.header().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.results.itemExpanded.connect(lambda item: asyncio.ensure_future(self.list_files(item)))
        self.results.itemActivated.connect(lambda _: self.download_selected())
        self.results.currentItemChanged.connect(lambda *_: self._selection_changed())
        self.status = QLabel(caption or self.tr("Find RWKV models that the list above does not have; files are "
                                                "checked against the sha256 the Hub lists for them."))
        self.status.setWordWrap(True)
        self.download_button = QPushButton(self.tr("Download"), clicked=self.download_selected)
        self.download_button.setEnabled(False)
        top = QHBoxLayout()
        top.addWidget(self.query, 1)
        top.addWidget(self.search_button)
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        bottom.addWidget(self.download_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.results, 1)
        layout.addLayout(bottom)

    async def search(self) -> None:
        query, endpoint = self.query.text(), self._endpoint()
        self.search_button.setEnabled(False)
        self.status.setText(self.tr("Searching…"))
        try:
            hits = await in_thread(lambda: search.search_models(query, endpoint=endpoint))
        except EngineError as e:
            self.status.setText(error_text(e))
            return
        finally:
            self.search_button.setEnabled(True)
        self.results.clear()
        for hit in hits:
            item = QTreeWidgetItem([hit.repo, "", "", "", f"{hit.downloads:,}" if hit.downloads else ""])
            item.setData(0, _REPO, hit.repo)
            item.setToolTip(0, self.tr("{repo}\n{likes} likes, updated {date}\ntags: {tags}").format(
                repo=hit.repo, likes=hit.likes, date=hit.last_modified or "?", tags=", ".join(hit.tags[:12])))
            item.setChildIndicatorPolicy(QTreeWidgetItem.ShowIndicator)
            self.results.addTopLevelItem(item)
        self.status.setText(self.tr("{n} RWKV repositories found; open one to see its files.").format(n=len(hits))
                            if hits else self.tr("No RWKV repositories match “{query}”.").format(query=query))

    async def list_files(self, item: QTreeWidgetItem) -> None:
        """Fill a repository row with its downloadable files (once)."""
        repo = item.data(0, _REPO)
        if repo is None or item.childCount() or item.data(1, _REPO) == "listing":
            return
        item.setData(1, _REPO, "listing")
        endpoint, suffixes = self._endpoint(), self._suffixes
        self.status.setText(self.tr("Listing the files of {repo}…").format(repo=repo))
        try:
            listing = await in_thread(lambda: search.repo_files(repo, endpoint=endpoint, suffixes=suffixes))
        except EngineError as e:
            item.setData(1, _REPO, None)
            self.status.setText(error_text(e))
            return
        for entry in listing.entries:
            child = QTreeWidgetItem([entry.filename, f"RWKV-{entry.generation}" if entry.generation else "?",
                                     f"{entry.parameters:g}B" if entry.parameters else "?",
                                     _size(entry.size)])
            child.setData(0, _ENTRY, entry)
            child.setToolTip(0, f"{entry.repo}/{entry.filename}\nsha256 {entry.sha256}")
            item.addChild(child)
        if not listing.entries:
            item.setChildIndicatorPolicy(QTreeWidgetItem.DontShowIndicator)
        text = self.tr("{repo}: {n} files to download.").format(repo=repo, n=len(listing.entries))
        if listing.skipped:
            text += " " + self.tr("{n} left out (hover for why).").format(n=len(listing.skipped))
        self.status.setText(text)
        self.status.setToolTip("\n".join(listing.skipped[:30]))

    def entry(self) -> hub.CatalogEntry | None:
        item = self.results.currentItem()
        return item.data(0, _ENTRY) if item is not None else None

    def download_selected(self):
        entry = self.entry()
        return self._download(entry) if entry is not None else None

    def _selection_changed(self) -> None:
        self.download_button.setEnabled(self.entry() is not None)


def _size(n: int) -> str:
    return f"{n / GB:.2f} GB" if n >= 1e7 else f"{n / 1e6:.1f} MB"
