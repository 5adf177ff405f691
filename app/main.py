"""``python -m app``: start RWKV Desktop (``--self-check`` proves an install works, headless)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m app", description="RWKV Desktop")
    p.add_argument("--model", help="model to load at start (default: the last one used, else the bundled demo)")
    p.add_argument("--data-dir", type=Path, help="where conversations are kept (default: the user data folder)")
    p.add_argument("--self-check", action="store_true",
                   help="open the window offscreen, chat once, save, reopen, print one line and exit")
    return p.parse_args(argv)


def data_dir(given: Path | None) -> Path:
    if given:
        return given
    from platformdirs import user_data_dir

    return Path(user_data_dir("RWKV Desktop", "RWKV Desktop"))


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.self_check:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import qasync
    from PySide6.QtWidgets import QApplication

    from .store import ConversationStore
    from .window import MainWindow
    from .worker import EngineWorker

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("RWKV Desktop")
    # Lets Wayland/GNOME match the window to the installed menu entry and its icon.
    app.setDesktopFileName("rwkv-desktop")
    app.setWindowIcon(_icon())
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    tmp = tempfile.TemporaryDirectory(prefix="rwkv-self-check-") if args.self_check else None
    folder = Path(tmp.name) if tmp else data_dir(args.data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    store = ConversationStore(folder)
    worker = EngineWorker(loop)
    window = MainWindow(worker, store)
    if not args.self_check:
        window.restore_geometry()
    window.show()
    try:
        with loop:
            if args.self_check:
                return loop.run_until_complete(self_check(window, folder, args.model or "demo"))
            loop.create_task(start(window, args.model))
            app.aboutToQuit.connect(loop.stop)
            loop.run_forever()
            return 0
    finally:
        worker.shutdown()
        store.close()
        if tmp:
            tmp.cleanup()


def _icon():
    """The application icon from ``resources/icons`` at every size shipped (works frozen too)."""
    from importlib.resources import files

    from PySide6.QtGui import QIcon

    icon = QIcon()
    for png in sorted(files("resources").joinpath("icons").iterdir(), key=lambda p: p.name):
        if png.name.endswith(".png"):
            icon.addFile(str(png))
    return icon


async def start(window, model: str | None) -> None:
    """Load the model (the one asked for, else the last one used, else the demo) and reopen the
    conversation that was open last time."""
    source = model or window.settings.get("model") or "demo"
    device, precision = window.settings.get("device", "cpu"), window.settings.get("precision", "auto")
    if not await window.load_model(source, device, precision) and source != "demo":
        await window.load_model("demo")
    asyncio.ensure_future(window.models.rescan())
    last = window.settings.get("conversation")
    if last is not None and any(c.id == last for c in window.store.list()):
        await window.chat.open_conversation(last)


async def self_check(window, folder: Path, model: str) -> int:
    """Load the model on the worker, chat once, save, reopen from the database: one line, exit 0."""
    from .lag import LagProbe
    from .store import ConversationStore

    t0 = time.perf_counter()
    probe = LagProbe()
    try:
        probe.start()
        if not await window.load_model(model):
            raise RuntimeError(f"could not load model '{model}'")
        load_lag = probe.stop()
        window.chat.input.setPlainText('What does "harbor" mean?')
        probe.start()
        window.chat.send()
        while not window.chat.busy:
            await asyncio.sleep(0.01)
        while window.chat.busy:
            await asyncio.sleep(0.02)
        generate_lag = probe.stop()
        reply = window.chat.session.messages[window.chat.session.leaf()]
        if reply.role != "assistant" or not reply.text.strip():
            raise RuntimeError("no reply was generated")
        conv_id = window.chat.conv_id
        reopened = ConversationStore(folder)
        try:
            texts = [m.text for m in reopened.load_messages(conv_id)]
            state = reopened.load_checkpoint(conv_id, reply.id, window.model)
        finally:
            reopened.close()
        if texts != [m.text for m in window.chat.session.path()] or state is None:
            raise RuntimeError("the saved conversation did not read back the same")
    except Exception as e:  # the one line an installer or CI shows
        print(f"self-check FAILED: {type(e).__name__}: {e}", flush=True)
        return 1
    print(f"self-check OK: {window.model.info.name} replied {len(reply.tokens)} tokens "
          f"({reply.text[:40]!r}...) with {window.model.kernels.name} kernels, "
          f"conversation and state saved and reopened, "
          f"{time.perf_counter() - t0:.1f} s; worst event-loop lag {load_lag * 1e3:.0f} ms while loading, "
          f"{generate_lag * 1e3:.0f} ms while generating", flush=True)
    return 0
