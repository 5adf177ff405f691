"""Catalog downloads: each file on its own thread, drawn as a row with progress, speed and ETA.

``engine.host.hub.download`` blocks and reports bytes from its thread; :class:`Download` runs it on a
daemon thread, keeps the numbers, and wakes the row on the event loop at most ten times a second.
Pause is a cancel that keeps the ``.incomplete`` part (the next start resumes it with a Range
request); Cancel also deletes the part, whatever ends the download after it. The hub checks the
free disk space and the sha256, and a failure's message (not enough space, a damaged file that was
deleted, a dropped connection) is shown on the row as it is.

:class:`DownloadsPanel` holds the rows in a scroll area that shows up to three of them and scrolls
beyond: its minimum height is one row's whatever the count, so downloads never make the window
taller. A finished, failed or cancelled row can be removed (its ×, or Clear finished).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QSize, Qt
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.host import hub

from .i18n import error_text


class Download:
    """One catalog entry's download: ``state`` is running, paused, failed, cancelled or done."""

    def __init__(self, entry: hub.CatalogEntry, *, endpoint: str | None, cache_dir: str | None,
                 on_change: Callable[[Download], None], loop: asyncio.AbstractEventLoop | None = None):
        self.entry, self.endpoint, self.cache_dir = entry, endpoint, cache_dir
        self.on_change = on_change
        self.loop = loop or asyncio.get_event_loop()
        self.state = "paused"
        self.done = self.partial.stat().st_size if self.partial.exists() else 0
        self.total = entry.size
        self.error = ""
        self.path: Path | None = None
        self.deleted_part = False      # a cancel deleted a part downloaded before it (not just nothing)
        self._cancel = threading.Event()
        self._discard = False
        self._samples: deque[tuple[float, int]] = deque()
        self._last_wake = 0.0

    @property
    def partial(self) -> Path:
        return hub.partial_path(self.entry, self.cache_dir)

    def start(self) -> None:
        """Start, resume after a pause, or retry after a failure."""
        if self.state in ("running", "done"):
            return
        self.state, self.error, self._discard, self.deleted_part = "running", "", False, False
        self._cancel = cancel = threading.Event()
        self._samples.clear()
        threading.Thread(target=self._run, args=(cancel,), name=f"download {self.entry.filename}",
                         daemon=True).start()
        self.on_change(self)

    def use(self, *, endpoint: str | None, cache_dir: str | None) -> None:
        """Take the mirror and download folder the settings name now (for a resume or a retry); a part
        kept in another folder stays there, and the count starts from this folder's part."""
        if self.state == "running":
            return
        self.endpoint, self.cache_dir = endpoint, cache_dir
        if self.state != "done":
            self.done = self.partial.stat().st_size if self.partial.exists() else 0

    def pause(self) -> None:
        if self.state == "running":
            self._cancel.set()

    def cancel(self) -> None:
        """Stop and delete the part downloaded so far."""
        if self.state == "running":
            self._discard = True
            self._cancel.set()
        elif self.state in ("paused", "failed"):
            self.deleted_part = _delete(self.partial)
            self.state, self.done = "cancelled", 0
            self.on_change(self)

    @property
    def speed(self) -> float:
        """Bytes per second over the last few seconds."""
        if len(self._samples) < 2:
            return 0.0
        (t0, d0), (t1, d1) = self._samples[0], self._samples[-1]
        return (d1 - d0) / (t1 - t0) if t1 > t0 else 0.0

    @property
    def eta(self) -> float | None:
        speed = self.speed
        return (self.total - self.done) / speed if speed > 0 else None

    def _run(self, cancel: threading.Event) -> None:
        try:
            path = hub.download(self.entry, endpoint=self.endpoint, cache_dir=self.cache_dir,
                                progress=self._progress, cancel=cancel)
        except hub.DownloadCancelled:
            self.loop.call_soon_threadsafe(self._finished, "cancelled", None, "")
        except (hub.DownloadError, OSError) as e:
            self.loop.call_soon_threadsafe(self._finished, "failed", None, error_text(e))
        else:
            self.loop.call_soon_threadsafe(self._finished, "done", path, "")

    def _progress(self, done: int, total: int) -> None:    # on the download thread
        now = time.monotonic()
        self.done, self.total = done, total
        self._samples.append((now, done))
        while len(self._samples) > 2 and now - self._samples[0][0] > 3.0:
            self._samples.popleft()
        if now - self._last_wake >= 0.1 or done == total:
            self._last_wake = now
            self.loop.call_soon_threadsafe(self.on_change, self)

    def _finished(self, state: str, path: Path | None, error: str) -> None:
        if self._discard and state != "done":
            # Cancel means delete, whatever ended the download after it (a failure can race it).
            self.deleted_part = _delete(self.partial)
            state, error, self.done = "cancelled", "", 0
        elif state == "cancelled":
            state = "paused"
        self.state, self.path, self.error = state, path, error
        if state == "failed" and not self.partial.exists():
            self.done = 0              # a damaged file was deleted: a retry starts from zero
        self.on_change(self)


def describe(d: Download) -> str:
    """"1.2 GB of 3.1 GB · 12.5 MB/s · 2 min left", or what happened."""
    amount = QCoreApplication.translate("DownloadRow", "{0} of {1}").format(_size(d.done), _size(d.total))
    if d.state == "running":
        eta = d.eta
        speed = f" · {_size(d.speed)}/s" if d.speed else ""
        left = (QCoreApplication.translate("DownloadRow", " · {0} left").format(_duration(eta))
                if eta is not None else "")
        return f"{amount}{speed}{left}"
    if d.state == "paused":
        return (QCoreApplication.translate("DownloadRow", "Paused at {0}").format(amount) if d.done else
                QCoreApplication.translate("DownloadRow", "Waiting"))
    if d.state == "failed":
        return d.error
    if d.state == "cancelled":
        return (QCoreApplication.translate("DownloadRow", "Cancelled; the partial file was deleted") if d.deleted_part
                else QCoreApplication.translate("DownloadRow", "Cancelled"))
    return QCoreApplication.translate("DownloadRow", "Downloaded and verified ({0}): it is in the library").format(
        _size(d.total))


class DownloadRow(QWidget):
    """The row for one download: name, progress bar, numbers, and the buttons that apply now."""

    FINISHED = ("done", "failed", "cancelled")

    def __init__(self, download: Download, load: Callable[[Path], None], restart: Callable[[], object] | None = None,
                 dismiss: Callable[[], object] | None = None):
        super().__init__()
        restart = restart or download.start
        self.download = download
        self.name = QLabel(f"<b>{download.entry.filename}</b>")
        self.name.setToolTip(f"{download.entry.repo}/{download.entry.filename}")
        self.name.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)    # a long name is cut, not the row
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.info = QLabel()
        self.info.setWordWrap(True)
        self.pause_button = QPushButton(self.tr("Pause"), clicked=download.pause)
        self.resume_button = QPushButton(self.tr("Resume"), clicked=lambda: restart())
        self.retry_button = QPushButton(self.tr("Retry"), clicked=lambda: restart())
        self.cancel_button = QPushButton(self.tr("Cancel"), clicked=download.cancel)
        self.load_button = QPushButton(self.tr("Load"), clicked=lambda: load(download.path))
        self.dismiss_button = QToolButton(text="×", autoRaise=True)
        self.dismiss_button.setAccessibleName(self.tr("Remove from the list"))
        self.dismiss_button.clicked.connect(lambda: dismiss and dismiss())
        self.dismiss = dismiss
        top = QHBoxLayout()
        top.addWidget(self.name, 1)
        for b in (self.pause_button, self.resume_button, self.retry_button, self.cancel_button, self.load_button,
                  self.dismiss_button):
            top.addWidget(b)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 4)
        layout.addLayout(top)
        layout.addWidget(self.bar)
        layout.addWidget(self.info)
        self.update_view()

    def update_view(self) -> None:
        d = self.download
        self.bar.setValue(int(1000 * d.done / d.total) if d.total else 0)
        self.info.setText(describe(d))
        self.info.setStyleSheet("color: #c62828;" if d.state == "failed" else "")
        self.pause_button.setVisible(d.state == "running")
        self.resume_button.setVisible(d.state == "paused")
        self.retry_button.setVisible(d.state in ("failed", "cancelled"))
        self.cancel_button.setVisible(d.state in ("running", "paused", "failed"))
        self.load_button.setVisible(d.state == "done")
        self.dismiss_button.setVisible(self.dismiss is not None and self.finished)
        self.dismiss_button.setToolTip(
            self.tr("Remove from the list; the part downloaded so far stays, and downloading the file again "
                    "resumes it") if d.state == "failed" and d.done else
            self.tr("Remove from the list (the file stays in the library)") if d.state == "done" else
            self.tr("Remove from the list"))

    @property
    def finished(self) -> bool:
        """Done, failed or cancelled: nothing runs or waits, and the row may go."""
        return self.download.state in self.FINISHED


class DownloadsPanel(QWidget):
    """The download rows under a "Downloads" header with Clear finished, in a scroll area that grows to
    three rows and scrolls beyond; hidden while there are none."""

    SHOWN_ROWS = 3

    def __init__(self):
        super().__init__()
        self.title = QLabel(self.tr("Downloads"))
        self.title.setObjectName("muted")
        self.clear_button = QPushButton(self.tr("Clear finished"), clicked=self.clear_finished)
        self.clear_button.setToolTip(self.tr("Remove the downloads that are done, failed or cancelled from the "
                                             "list (files and kept parts stay on disk)"))
        header = QHBoxLayout()
        header.setContentsMargins(0, 0, 0, 0)
        header.addWidget(self.title)
        header.addStretch()
        header.addWidget(self.clear_button)
        self.rows_widget = QWidget()
        self.rows_layout = QVBoxLayout(self.rows_widget)
        self.rows_layout.setContentsMargins(0, 0, 4, 0)
        self.rows_layout.addStretch()
        self.scroll = _RowsArea(self)
        self.scroll.setWidget(self.rows_widget)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(header)
        layout.addWidget(self.scroll)
        self.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Maximum)
        self.setVisible(False)

    def rows(self) -> list[DownloadRow]:
        return [w for i in range(self.rows_layout.count()) if isinstance(w := self.rows_layout.itemAt(i).widget(),
                                                                        DownloadRow)]

    def add(self, row: DownloadRow) -> None:
        self.rows_layout.insertWidget(self.rows_layout.count() - 1, row)     # above the stretch
        if self.scroll.row_height is None:      # a new row's: one line of text under the bar, kept from now on
            row.ensurePolished()
            self.scroll.row_height = row.sizeHint().height()
        self.changed()

    def remove(self, row: DownloadRow) -> None:
        self.rows_layout.removeWidget(row)
        row.hide()
        row.deleteLater()
        self.changed()

    def clear_finished(self) -> None:
        for row in self.rows():
            if row.finished and row.dismiss is not None:
                row.dismiss()

    def changed(self) -> None:
        """After a row came, went or changed state: the header, the visibility and the height the rows ask."""
        rows = self.rows()
        self.setVisible(bool(rows))
        self.clear_button.setEnabled(any(r.finished for r in rows))
        self.scroll.updateGeometry()


class _RowsArea(QScrollArea):
    """Asks for the height of its first three rows and no more; its minimum is one new row's height,
    the same whatever the rows (their number, or an error wrapped over several lines)."""

    def __init__(self, panel: DownloadsPanel):
        super().__init__()
        self.panel = panel
        self.row_height: int | None = None
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Maximum)

    def _min_height(self) -> int:
        return (self.row_height or 5 * self.fontMetrics().height()) + 2 * self.frameWidth()

    def sizeHint(self) -> QSize:
        rows = self.panel.rows()[:DownloadsPanel.SHOWN_ROWS]
        spacing = max(self.panel.rows_layout.spacing(), 0)
        width = self.viewport().width()
        height = sum(r.heightForWidth(width) if width > 0 and r.hasHeightForWidth() else r.sizeHint().height()
                     for r in rows) + spacing * max(len(rows) - 1, 0)
        return QSize(super().sizeHint().width(), max(height + 2 * self.frameWidth(), self._min_height()))

    def minimumSizeHint(self) -> QSize:
        return QSize(super().minimumSizeHint().width(), self._min_height())


def _delete(path: Path) -> bool:
    """Delete ``path`` if it is there; whether it was."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
