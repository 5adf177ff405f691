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


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.self_check:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    # Qt aborts without a window when its xcb plugin lacks a system library, naming only one: say
    # which packages to install instead. Installers carry or declare these libraries themselves.
    if not getattr(sys, "frozen", False):
        from .system_libs import check

        if check() != 0:
            return 1
    import qasync
    from PySide6.QtWidgets import QApplication

    from . import i18n
    from .data_folder import default_folder, open_service, qt_ask, qt_choose
    from .settings import Settings
    from .state import AppState
    from .window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("RWKV Desktop")
    # Lets Wayland/GNOME match the window to the installed menu entry and its icon.
    app.setDesktopFileName("rwkv-desktop")
    app.setWindowIcon(_icon())
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    tmp = tempfile.TemporaryDirectory(prefix="rwkv-self-check-") if args.self_check else None
    folder = Path(tmp.name) if tmp else args.data_dir or default_folder()
    # The language is known before the first dialog (the data folder's) and before any window.
    i18n.install(i18n.saved_choice(folder / "settings.json"), app)
    opened = open_service(folder, qt_ask, qt_choose)
    if opened is None:
        return 1
    service, folder = opened
    settings = Settings(folder / "settings.json")
    i18n.install(settings.get("language"), app)           # the folder may be another one now
    state = AppState(service, settings)
    window = MainWindow(state)
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
        state.shutdown()            # a reply still streaming stops within a token and is stored
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
    """Load the model (the one asked for, else the remote server or the model used last, else the
    demo), start the local server if it was on, and reopen the conversation that was open last time;
    while only the demo has been used, the first-run card says what to do next."""
    from . import first_run

    state = window.state
    settings = state.settings
    welcome = model is None and first_run.wanted(settings)
    remote = model is None and settings.get("backend") == "remote" and settings.get("remote_url")
    if not remote or not await state.connect_remote(settings.get("remote_url"), settings.get("remote_key") or None,
                                                    settings.get("remote_model")):
        source = model or settings.get("model") or "demo"
        device, precision = settings.get("device", "cpu"), settings.get("precision", "auto")
        if not await window.load_model(source, device, precision) and source != "demo":
            await window.load_model("demo")
    if state.server.enabled:
        await state.server.start()
    asyncio.ensure_future(window.models.rescan())
    if welcome:
        first_run.show(window)
    last = state.settings.get("conversation")
    if last is not None and any(c.id == last for c in state.conversations()):
        await state.open(last)


async def self_check(window, folder: Path, model: str) -> int:
    """Load the model on the engine thread, chat once, reopen the conversation from the database
    through a second engine service: one line, exit 0."""
    from engine.service import EngineService
    from engine.service import commands as C

    from .lag import LagProbe

    t0 = time.perf_counter()
    probe = LagProbe()
    state = window.state
    state.settings.set("measure_precisions", False)     # its lag figures are the chat's, not a probe's
    try:
        probe.start()
        if not await window.load_model(model):
            raise RuntimeError(f"could not load model '{model}': {window.failure}")
        load_lag = probe.stop()
        window.chat.input.setPlainText('What does "harbor" mean?')
        probe.start()
        window.chat.send()
        while not state.busy:
            await asyncio.sleep(0.01)
        while state.busy:
            await asyncio.sleep(0.02)
        generate_lag = probe.stop()
        path = state.conversation.path() if state.conversation is not None else []
        reply = path[-1] if path else None
        if reply is None or reply.role != "assistant" or not reply.text.strip():
            raise RuntimeError("no reply was generated")
        conv_id = state.conversation.id
        reopened = EngineService(folder, name="self-check")
        try:
            reopened.call(C.LoadModel(model), 120)
            event = reopened.call(C.OpenConversation(conv_id), 60)
            texts = [m.text for m in event.conversation.path()]
        finally:
            reopened.shutdown()
        if texts != [m.text for m in path]:
            raise RuntimeError("the saved conversation did not read back the same")
    except Exception as e:  # the one line an installer or CI shows
        print(f"self-check FAILED: {type(e).__name__}: {e}", flush=True)
        return 1
    m = state.model
    print(f"self-check OK: {m.name} replied {reply.stats.tokens} tokens ({reply.text[:40]!r}...) with {m.kernels} "
          f"kernels, conversation and state saved and reopened, {time.perf_counter() - t0:.1f} s; worst "
          f"event-loop lag {load_lag * 1e3:.0f} ms while loading, {generate_lag * 1e3:.0f} ms while generating",
          flush=True)
    return 0
