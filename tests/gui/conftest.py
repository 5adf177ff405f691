"""GUI tests run the real window offscreen, on one asyncio loop over Qt's event loop.

PySide6 6.12 on Python 3.11 sometimes aborts while the interpreter collects its last Qt wrappers
at exit ("Fatal Python error: bool_dealloc", after every test has passed; seen with and without
our window's newest widgets, about one run in two). The crash is in the binding, after pytest has
reported; so once everything is reported, the process leaves with pytest's own exit status
without that final collection.
"""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
qasync = pytest.importorskip("qasync")
_status: list[int] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _status.append(int(exitstatus))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    if _status:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_status[-1])


@pytest.fixture(scope="session")
def loop(qapp):
    """One asyncio loop on Qt's event loop for the whole session, closed while Qt still exists."""
    loop = qasync.QEventLoop(qapp, already_running=False)
    asyncio.set_event_loop(loop)
    yield loop
    loop.close()
    # Free every wrapper while Qt still exists: PySide can crash collecting them at interpreter exit.
    import gc

    from PySide6.QtCore import QCoreApplication, QEvent

    QCoreApplication.sendPostedEvents(None, QEvent.DeferredDelete)
    gc.collect()


@pytest.fixture
def make_window(qtbot, loop, tmp_path):
    """``make_window(folder)``: a shown MainWindow, with its own engine service, on a data folder (a
    second one on the same folder is the app after a restart). Downloads and the library use
    ``tmp_path/hf-cache``, never the user's Hugging Face cache."""
    from app import theme
    from app.settings import Settings
    from app.state import AppState
    from app.window import MainWindow
    from engine.service import EngineService

    made = []

    def make(folder=tmp_path / "data"):
        settings = Settings(folder / "settings.json")
        if settings.get("hf_cache") is None:
            settings.set("hf_cache", str(tmp_path / "hf-cache"))
        if settings.get("measure_precisions") is None:       # seconds of CPU per model: where a test asks
            settings.set("measure_precisions", False)
        state = AppState(EngineService(folder), settings)
        win = MainWindow(state)
        qtbot.addWidget(win)
        win.show()
        made.append(state)
        return win

    yield make
    for state in made:
        state.shutdown()
    theme.apply("Light")          # the palette is the application's: leave it as the next test expects
