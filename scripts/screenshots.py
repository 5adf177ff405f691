"""Screenshots of the real app for the docs, taken on a real X screen:

    xvfb-run -s "-screen 0 1280x800x24" .venv/bin/python scripts/screenshots.py --out docs/screenshots

Opens the window on the demo model with a fresh data folder, has a short conversation through the
widgets, and saves PNGs of the window as it is drawn.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path


async def _wait(predicate, timeout: float = 120) -> None:
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise TimeoutError


async def scene(window, app, out: Path) -> None:
    window.chat.preset.setCurrentText("Precise")
    if not await window.load_model("demo"):
        raise SystemExit("could not load the demo model")
    for question in ('What does "harbor" mean?', "Can you use it in a sentence?"):
        window.chat.input.setPlainText(question)
        window.chat.send()
        await _wait(lambda: window.chat.busy)
        await _wait(lambda: not window.chat.busy)
    window.chat.new_chat()
    window.chat.input.setPlainText('Define "lighthouse".')
    window.chat.send()
    await _wait(lambda: window.chat.busy)
    await _wait(lambda: not window.chat.busy)
    await window.chat.open_conversation(window.sidebar.conversations.item(1).data(0x0100))
    await asyncio.sleep(0.3)
    app.processEvents()
    out.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(out / "main-window.png"))
    print(f"saved {out / 'main-window.png'}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    a = p.parse_args()
    import qasync
    from PySide6.QtWidgets import QApplication

    from app.store import ConversationStore
    from app.window import MainWindow
    from app.worker import EngineWorker

    app = QApplication(sys.argv[:1])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with tempfile.TemporaryDirectory() as tmp:
        store = ConversationStore(Path(tmp))
        worker = EngineWorker(loop)
        window = MainWindow(worker, store)
        window.resize(1200, 760)
        window.show()
        with loop:
            loop.run_until_complete(scene(window, app, a.out))
        worker.shutdown()
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
