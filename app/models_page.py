"""The Models page: the models on this computer, the catalog to download from, and the downloads.

The library is the bundled demo, the files in the Hugging Face cache and those under the folders
the user added (kept in settings); a Hugging Face model folder (fla-hub RWKV-7, transformers'
RWKV-4) is one row, the folder. Each model's generation, parameters and precision come from
:func:`engine.host.library.inspect_file`, which reads headers only, on a scan thread; results are kept
per (path, size, mtime) so a rescan reads only new or changed files.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.errors import EngineError
from engine.host import hardware, hub, library
from engine.host.library import FileInfo, StateFileInfo, inspect_file, inspect_state_file

from . import precision_probe
from .background import in_thread
from .downloads import Download, DownloadRow, DownloadsPanel
from .hub_search import HubSearch
from .i18n import error_text
from .precision_probe import PrecisionProbe
from .state import AppState
from .state_library import StateLibrary

GB = 1e9
# The catalog's tags (resources/catalog.json), for translation; a tag not listed here is shown as it is.
TAGS = (QT_TRANSLATE_NOOP("ModelsPage", "Official"), QT_TRANSLATE_NOOP("ModelsPage", "Global"),
        QT_TRANSLATE_NOOP("ModelsPage", "CN"), QT_TRANSLATE_NOOP("ModelsPage", "JP"),
        QT_TRANSLATE_NOOP("ModelsPage", "Finetuned"), QT_TRANSLATE_NOOP("ModelsPage", "Raven"),
        QT_TRANSLATE_NOOP("ModelsPage", "Recommended"), QT_TRANSLATE_NOOP("ModelsPage", "Reasoning"),
        QT_TRANSLATE_NOOP("ModelsPage", "Music"), QT_TRANSLATE_NOOP("ModelsPage", "Role Play"),
        QT_TRANSLATE_NOOP("ModelsPage", "Function Call"))


class ModelsPage(QWidget):
    def __init__(self, state: AppState, devices: list[hardware.Device], open_file: Callable[[], Awaitable],
                 open_folder: Callable[[], Awaitable], open_remote: Callable[[], object] = lambda: None):
        super().__init__()
        self.state, self.settings, self.devices = state, state.settings, devices
        self._open_file, self._open_folder, self._open_remote = open_file, open_folder, open_remote
        self.entries: list[hub.CatalogEntry] = hub.catalog()
        self.downloads: dict[tuple[str, str], DownloadRow] = {}
        self.files: list[tuple[Path, FileInfo | str]] = []
        self.states: list[StateFileInfo] = []
        self._loaded_info: tuple[Path, FileInfo | StateFileInfo | str] | None = None
        self._select_loaded = False     # select the loaded model's row once it is listed
        self._known: dict[tuple[str, int, float], FileInfo | str] = {}
        self._panel_states: dict[Download, str] = {}     # each download's state as the downloads panel last saw it
        self._build()
        self.fill_catalog()
        self.precision_probe = PrecisionProbe(state)
        state.preferenceChanged.connect(self._preference_changed)
        state.modelChanged.connect(self._model_changed)

    def _model_changed(self) -> None:
        self._select_loaded = True
        self.show_library()
        model = self.state.model
        if model is not None and not model.is_remote and \
                all(Path(model.path) != path for path, _ in [*self.files, *filter(None, [self._loaded_info])]):
            asyncio.ensure_future(self.rescan())       # opened from a file: listed too, and the state library names it

    def _preference_changed(self, key: str) -> None:
        if key in ("model_dirs", "hf_cache"):
            asyncio.ensure_future(self.rescan())
        elif key == "precision_probes":
            self.fill_catalog()
        elif key in ("device", "precision"):
            self.show_library()

    def _build(self) -> None:
        lib = QGroupBox(self.tr("Models on this computer"))
        self.library = QTreeWidget()
        self.library.setHeaderLabels([self.tr("Model"), self.tr("Generation"), self.tr("Parameters"),
                                      self.tr("Precision"), self.tr("Size"), self.tr("Fits"), self.tr("Location")])
        self.library.setRootIsDecorated(False)
        self.library.header().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.library.itemActivated.connect(lambda _: asyncio.ensure_future(self.load_selected()))
        self.load_button = QPushButton(self.tr("Load"), clicked=lambda: asyncio.ensure_future(self.load_selected()))
        open_file = QPushButton(self.tr("Open file…"), clicked=lambda: asyncio.ensure_future(self._open_file()))
        open_folder = QPushButton(self.tr("Open folder…"),
                                  clicked=lambda: asyncio.ensure_future(self._open_folder()))
        open_folder.setToolTip(self.tr("Load a Hugging Face model folder (config.json and its weight files)"))
        add_folder = QPushButton(self.tr("Add folder…"), clicked=self.add_folder_dialog)
        add_folder.setToolTip(self.tr("Add a folder to search for models; they appear in this list"))
        rescan = QPushButton(self.tr("Rescan"), clicked=lambda: asyncio.ensure_future(self.rescan()))
        self.delete_button = QPushButton(self.tr("Delete…"), clicked=self.delete_selected)
        self.delete_button.setToolTip(self.tr("Delete the selected model from disk (you are asked first)"))
        delete_key = QShortcut(QKeySequence.Delete, self.library, activated=self.delete_selected)
        delete_key.setContext(Qt.WidgetShortcut)
        remote = QPushButton(self.tr("Remote server…"), clicked=lambda: self._open_remote())
        remote.setToolTip(self.tr("Chat with a model that an OpenAI-compatible server runs (RWKV Desktop's, "
                                  "Ai00, llama.cpp, Ollama…)"))
        row = QHBoxLayout()
        row.addWidget(remote)
        row.addStretch()
        for b in (add_folder, rescan, self.delete_button, open_file, open_folder, self.load_button):
            row.addWidget(b)
        ll = QVBoxLayout(lib)
        ll.addWidget(self.library)
        ll.addLayout(row)

        cat = QGroupBox(self.tr("Download"))
        self.recommendation = QLabel()
        self.recommendation.setWordWrap(True)
        self.catalog_view = QTreeWidget()
        self.catalog_view.setHeaderLabels([self.tr("Model"), self.tr("Generation"), self.tr("Parameters"),
                                           self.tr("Size"), self.tr("Tags")])
        self.catalog_view.setRootIsDecorated(False)
        self.catalog_view.header().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.catalog_view.itemActivated.connect(lambda _: self.download_selected())
        self.older = QCheckBox(self.tr("Older generations (RWKV-4, 5, 6)"))
        self.older.toggled.connect(self.fill_catalog)
        self.download_button = QPushButton(self.tr("Download"), clicked=self.download_selected)
        row = QHBoxLayout()
        row.addWidget(self.older)
        row.addStretch()
        row.addWidget(self.download_button)
        self.downloads_panel = DownloadsPanel()
        official = QWidget()
        ol = QVBoxLayout(official)
        ol.addWidget(self.recommendation)
        ol.addWidget(self.catalog_view, 1)
        ol.addLayout(row)
        self.hub_search = HubSearch(lambda: self.settings.get("endpoint") or None, self.download)
        self.sources = QTabWidget()
        self.sources.addTab(official, self.tr("Official models"))
        self.sources.addTab(self.hub_search, self.tr("Search Hugging Face"))
        self.state_library = StateLibrary(self.state, lambda: self.settings.get("endpoint") or None, self.download)
        self.sources.addTab(self.state_library, self.tr("State library"))
        cl = QVBoxLayout(cat)
        cl.addWidget(self.sources, 1)
        cl.addWidget(self.downloads_panel)

        split = QSplitter(Qt.Vertical)
        split.addWidget(lib)
        split.addWidget(cat)
        split.setSizes([220, 480])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split)

    # -- library ---------------------------------------------------------------------------------

    def model_dirs(self) -> list[str]:
        return list(self.settings.get("model_dirs", []))

    def cache_dir(self) -> str | None:
        return self.settings.get("hf_cache") or None

    def add_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, self.tr("Add a folder of models"), str(Path.home()))
        if folder:
            asyncio.ensure_future(self.add_folder(folder))

    async def add_folder(self, folder: str) -> None:
        dirs = self.model_dirs()
        if folder not in dirs:
            self.state.set_preference("model_dirs", [*dirs, folder])
        await self.rescan()

    async def rescan(self) -> None:
        """List every model file again; headers are read on a scan thread, new files only."""
        dirs, cache, known = self.model_dirs(), self.cache_dir(), dict(self._known)
        model = self.state.model
        loaded = Path(model.path) if model is not None and not model.is_remote else None

        def scan() -> dict[tuple[str, int, float], FileInfo | StateFileInfo | str]:
            found = {}
            states = hub.local_files((".state",), dirs, cache_dir=cache)
            for path in [library.bundled("demo"), *hub.local_models(dirs, cache_dir=cache), *states]:
                try:
                    key = (str(path), *library.signature(path))
                except OSError:
                    continue
                if key not in known:
                    known[key] = _inspect(path)
                found[key] = known[key]
            if loaded is not None and all(Path(k[0]).resolve() != loaded.resolve() for k in found):
                found[("loaded", 0, 0.0)] = (loaded, _inspect(loaded))    # opened from a file: listed while loaded
            return found

        found = await in_thread(scan)
        self._loaded_info = found.pop(("loaded", 0, 0.0), None)
        self._known = found
        self.files = [(Path(key[0]), info) for key, info in self._known.items() if not isinstance(info, StateFileInfo)]
        self.states = [info for info in self._known.values() if isinstance(info, StateFileInfo)]
        self.show_library()

    def show_library(self) -> None:
        """Fill the table (also when the chosen device changes: the Fits column follows it), and the
        state library's (which models each state fits follows the library)."""
        models = [(p, i) for p, i in [*self.files, *filter(None, [self._loaded_info])] if isinstance(i, FileInfo)]
        self.state_library.show_states(self.states, models)
        device, precision = self._chosen()
        model = self.state.model
        loaded = Path(model.path).resolve() if model is not None and not model.is_remote else None
        current = self.library.currentItem()
        selected = current.data(0, Qt.UserRole) if current is not None else None
        self.library.clear()
        opened = [self._loaded_info] if self._loaded_info is not None and loaded is not None and \
            self._loaded_info[0].resolve() == loaded else []
        for path, info in [*opened, *self.files]:
            item = QTreeWidgetItem()
            item.setText(0, _display_name(path) + (self.tr("  (loaded)") if loaded == path.resolve() else ""))
            item.setData(0, Qt.UserRole, str(path))
            item.setText(6, str(path.parent))
            item.setToolTip(6, str(path))
            if opened and path == opened[0][0]:         # not in a model folder: listed while it is loaded
                item.setToolTip(0, self.tr("Opened from a file; add its folder (Add folder…) to keep it in the list"))
            if isinstance(info, str):
                item.setText(1, self.tr("not usable"))
                item.setToolTip(0, info)
                item.setToolTip(1, info)
                item.setDisabled(True)
            else:
                item.setText(1, f"RWKV-{info.generation}")
                item.setText(2, _params(info.n_params))
                item.setText(3, info.precision)
                item.setText(4, f"{info.size / GB:.2f} GB")
                shown = precision_probe.auto_precision(self.settings, device, info) \
                    if device is not None and precision == "auto" else precision
                fits, why = _fit(info, device, shown)
                item.setText(5, ("✓ " if fits else "✗ ") + f"{device.kind.upper()} {shown}" if device else "?")
                item.setToolTip(5, why)
            self.library.addTopLevelItem(item)
            if self._select_loaded and loaded == path.resolve():
                self._select_loaded = False             # a model just loaded: its row is the selection
                self.library.setCurrentItem(item)
            elif str(path) == selected and self.library.currentItem() is None:
                self.library.setCurrentItem(item)

    def _chosen(self) -> tuple[hardware.Device | None, str]:
        settings = self.settings
        device_id, precision = settings.get("device", "cpu"), settings.get("precision", "auto")
        device = next((d for d in self.devices if d.id == device_id), None)
        device = device or (self.devices[0] if self.devices else None)
        if device and precision not in device.precisions:
            precision = "auto"        # another device's choice: this one's recommendation
        return device, precision

    async def load_selected(self) -> bool:
        item = self.library.currentItem()
        if item is None or item.isDisabled():
            return False
        device, precision = self._chosen()
        ok = await self.state.load_model(item.data(0, Qt.UserRole), device.id if device else "cpu", precision)
        if ok:
            self.show_library()
        return ok

    def delete_selected(self) -> QMessageBox | None:
        """Ask, then delete the selected model from disk. The question says whose file it is: one this
        app downloaded, one in the Hugging Face cache that other tools share, or the user's own."""
        item = self.library.currentItem()
        if item is None:
            return None
        path = Path(item.data(0, Qt.UserRole))
        model = self.state.model
        if path.resolve() == library.bundled("demo").resolve():
            self.state.status.emit(self.tr("The demo model comes with the app and cannot be deleted"), 5000)
            return None
        if model is not None and not model.is_remote and Path(model.path).resolve() == path.resolve():
            self.state.status.emit(self.tr("{name} is loaded: load another model before deleting it").format(
                name=_display_name(path)), 8000)
            return None
        size = next((info.size for p, info in self.files if p == path and not isinstance(info, str)), None)
        amount = f" ({size / GB:.2f} GB)" if size else ""
        if str(path) in self.settings.get("downloaded", []):
            why = self.tr("RWKV Desktop downloaded it; you can download it again later.")
        elif library.cached_files(path, self.cache_dir()) is not None:
            why = self.tr("It is in the Hugging Face cache, which other programs share: they will not find it "
                          "either.")
        else:
            why = self.tr("RWKV Desktop did not download it: it is your own file in {folder}. It is deleted, "
                          "not moved to the trash.").format(folder=path.parent)
        box = QMessageBox(QMessageBox.Warning, self.tr("Delete model"),
                          self.tr("Delete {name}{amount} from disk?").format(name=_display_name(path), amount=amount),
                          QMessageBox.Cancel, self)
        box.setInformativeText(why)
        box.setDetailedText(str(path))
        delete = box.addButton(self.tr("Delete"), QMessageBox.DestructiveRole)
        box.setDefaultButton(QMessageBox.Cancel)
        box.setAttribute(Qt.WA_DeleteOnClose)
        box.buttonClicked.connect(lambda b: b is delete and asyncio.ensure_future(self.delete(path)))
        self.delete_box = box
        box.open()
        return box

    async def delete(self, path: Path) -> bool:
        """Delete ``path`` (the user has confirmed) on a worker thread, then list the library again."""
        cache = self.cache_dir()
        try:
            freed = await in_thread(lambda: library.delete_model(path, cache))
        except (EngineError, OSError) as e:
            said = self.tr("Could not delete {name}: {error}").format(name=path.name, error=error_text(e))
            self.state.status.emit(said, 0)
            return False
        downloaded = [p for p in self.settings.get("downloaded", []) if p != str(path)]
        self.state.set_preference("downloaded", downloaded)
        self.state.status.emit(self.tr("Deleted {name}; {gb:.2f} GB freed").format(
            name=_display_name(path), gb=freed / GB), 8000)
        await self.rescan()
        return True

    # -- catalog and downloads -----------------------------------------------------------------------

    def set_catalog(self, entries: list[hub.CatalogEntry]) -> None:
        self.entries = entries
        self.fill_catalog()

    def recommended(self) -> tuple[hub.CatalogEntry | None, str]:
        """The catalog's pick for this computer, and where it would run ("Test GPU (24 GiB)")."""
        devices = self.devices
        gpus = [d for d in devices if d.kind != "cpu"]
        device = max(gpus or devices, key=lambda d: d.memory_bytes, default=None)
        # On a GPU memory is the limit; on a CPU speed is, and the engine picks the biggest model
        # that still answers at a usable speed (hub.recommended_for says what bandwidth it assumes).
        if device is None:
            return None, self.tr("this computer")
        gib = f"{device.memory_bytes / 2**30:.1f} GiB"
        return (hub.recommended_for(self.entries, device, measured=precision_probe.latest(self.settings)),
                f"{device.name} ({gib})" if gpus else self.tr("this computer's CPU ({0} RAM)").format(gib))

    def fill_catalog(self) -> None:
        gpus = [d for d in self.devices if d.kind != "cpu"]
        best, where = self.recommended()
        self.recommendation.setText(
            self.tr("★ Recommended for {0}: <b>{1}</b>").format(where, best.filename) if best else
            self.tr("No official RWKV-7 model fits {0}; the smallest ones may still run slowly.").format(where))
        if best is not None and not gpus:
            self.recommendation.setToolTip(
                self.tr("Bigger models would answer slower than {0} tokens/s on a typical CPU ({1} GB/s memory "
                        "bandwidth assumed); they are in the list below.").format(
                    f"{hub.MIN_TOKENS_PER_SECOND:.0f}", f"{hub.CPU_BYTES_PER_SECOND / 1e9:.0f}"))
        else:
            self.recommendation.setToolTip("")
        shown = [e for e in self.entries if self.older.isChecked() or e.generation == 7]
        shown.sort(key=lambda e: (-e.generation, e.parameters or 0, e.filename))
        self.catalog_view.clear()
        for e in shown:
            item = QTreeWidgetItem([("★ " if e == best else "") + e.filename, f"RWKV-{e.generation}",
                                    f"{e.parameters:g}B" if e.parameters else "?", f"{e.size / GB:.2f} GB",
                                    ", ".join(self.tr(t) for t in e.tags if not t.startswith("RWKV-"))])
            item.setData(0, Qt.UserRole, self.entries.index(e))
            item.setToolTip(0, f"{e.repo}/{e.filename}\nsha256 {e.sha256}")
            self.catalog_view.addTopLevelItem(item)
            if e == best:
                self.catalog_view.setCurrentItem(item)
                self.catalog_view.scrollToItem(item)

    def download_selected(self) -> Download | None:
        item = self.catalog_view.currentItem()
        if item is None:
            return None
        return self.download(self.entries[item.data(0, Qt.UserRole)])

    def download(self, entry: hub.CatalogEntry) -> Download:
        """Start (or resume) ``entry``'s download with the endpoint and cache from the settings."""
        key = (entry.repo, entry.filename)
        row = self.downloads.get(key)
        endpoint = self.settings.get("endpoint") or None
        if row is None:
            d = Download(entry, endpoint=endpoint, cache_dir=self.cache_dir(), on_change=self._download_changed)
            row = self.downloads[key] = DownloadRow(d, self._load_downloaded, lambda: self.download(entry),
                                                    lambda: self.dismiss_download(key))
            self.downloads_panel.add(row)
        else:       # a resume or a retry: the mirror and folder the settings name now
            row.download.use(endpoint=endpoint, cache_dir=self.cache_dir())
        row.download.start()
        return row.download

    def dismiss_download(self, key: tuple[str, str]) -> None:
        """Take a finished, failed or cancelled download's row off the list (its file or kept part stays:
        downloading it again finds or resumes it)."""
        row = self.downloads.get(key)
        if row is not None and row.finished:
            del self.downloads[key]
            self.downloads_panel.remove(row)

    def _load_downloaded(self, path: Path) -> None:
        if any(info.path == path for info in self.states):
            self.tabs_to_states()
            asyncio.ensure_future(self.state.apply_tuning(str(path)))
            return
        device, precision = self._chosen()
        asyncio.ensure_future(self.state.load_model(str(path), device.id if device else "cpu", precision))

    def tabs_to_states(self) -> None:
        self.sources.setCurrentWidget(self.state_library)

    def pause_downloads(self) -> None:
        """Pause every running download (the parts are kept: the next start resumes them)."""
        for row in self.downloads.values():
            row.download.pause()

    def _download_changed(self, d: Download) -> None:
        row = self.downloads.get((d.entry.repo, d.entry.filename))
        if row is not None and row.download is d:
            row.update_view()
            if self._panel_states.get(d) != d.state:      # progress alone: the panel stays as it is
                self._panel_states[d] = d.state
                self.downloads_panel.changed()
        if d.state == "done":
            if d.path is not None and str(d.path) not in self.settings.get("downloaded", []):
                self.state.set_preference("downloaded", [*self.settings.get("downloaded", []), str(d.path)])
            self.state.status.emit(self.tr("{0} downloaded and verified; it is in the library").format(
                d.entry.filename), 10000)
            asyncio.ensure_future(self.rescan())
        elif d.state == "failed":
            # For a while, like every message: the row keeps the error.
            self.state.status.emit(self.tr("Download of {0} failed: {1}").format(d.entry.filename, d.error), 15000)


def _inspect(path: Path) -> FileInfo | StateFileInfo | str:
    """What a file in the library is: a model, a state-tuning file, or why it is neither."""
    try:
        return inspect_file(path)
    except (EngineError, OSError) as e:
        try:
            return inspect_state_file(path)
        except (EngineError, OSError):
            return error_text(e)


def _display_name(path: Path) -> str:
    """A file's stem; a folder's name; the repository's name for a Hugging Face cache snapshot
    (``models--fla-hub--rwkv7-0.1B-world/snapshots/<commit>``) or a generic file name in one."""
    folder = path if path.is_dir() else path.parent
    if path.is_dir() or path.stem in ("model", "rwkv", "pytorch_model"):
        if folder.parent.name == "snapshots" and folder.parent.parent.name.startswith("models--"):
            return folder.parent.parent.name.split("--")[-1]
        return folder.name
    return path.stem


def _params(n: int) -> str:
    return f"{n / 1e9:.2f}B" if n >= 1e9 else f"{n / 1e6:.1f}M"


def _fit(info: FileInfo, device: hardware.Device | None, precision: str) -> tuple[bool, str]:
    if device is None:
        return False, QCoreApplication.translate("ModelsPage", "No device was detected")
    weights = info.n_params * hardware.BYTES_PER_PARAM.get(precision, 2)
    need = hardware.needed_bytes(weights)
    fits = hardware.fits(device, weights)
    text = (QCoreApplication.translate("ModelsPage", "fits {0}: needs ~{1} GiB in {2}, {3} GiB there") if fits else
            QCoreApplication.translate("ModelsPage", "does not fit {0}: needs ~{1} GiB in {2}, {3} GiB there"))
    return fits, text.format(device.name, f"{need / 2**30:.1f}", precision, f"{device.memory_bytes / 2**30:.1f}")
