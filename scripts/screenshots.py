"""Screenshots of the real app for the docs, taken on a real X screen:

    PYTHONPATH=. xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python scripts/screenshots.py --out docs/screenshots

Opens the window on the demo model with a fresh data folder and Hugging Face cache, has a short
conversation through the widgets, starts a catalog download from a stand-in Hub on 127.0.0.1
(``tests/e2e/mock_hub.py``, serving random bytes under the real file's name and size, slowed down
so that it is caught half-way), and saves PNGs of the window as it is drawn:

- ``main-window.png``: the chat, resumed from its saved state
- ``chat-settings.png``: the same with the conversation's settings panel open
- ``chat-dark.png``: the same in the dark theme
- ``message-actions.png``: the links on every message, and a reply edited by hand (a branch)
- ``models.png``: the model library, the catalog with the recommended pick, a download in progress
- ``settings.png``: mirror, folders, theme and the detected hardware
- ``server.png``: the local server on, after a few requests from another app (its log)
- ``remote.png``: the Remote server dialog, listing the models of that same server
- ``first-run.png``: the first-run card over the window on a fresh data folder
- ``models-search.png``: the Models page searching the Hub (the stand-in answers ``/api/models`` and
  the repository's file list from the bundled catalog: real names, sizes and sha256, no download counts)

``--language zh_CN`` draws the interface in that language instead (``app.i18n``) and takes a few
pages, named with the language: ``main-window-zh_CN.png`` (a conversation, its settings panel open),
``models-zh_CN.png``, ``settings-zh_CN.png``, ``server-zh_CN.png``, ``remote-zh_CN.png``. Chinese
text needs a CJK font (Debian/Ubuntu: ``fonts-noto-cjk``).


``--only first-run,models-search`` takes just those (any comma list of the names above, less ``.png``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

STANDIN = "rwkv7-g1-0.1b-20250307-ctx4096.pth"


async def _wait(predicate, timeout: float = 120) -> None:
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise TimeoutError


async def _settle(app) -> None:
    await asyncio.sleep(0.4)
    app.processEvents()


def _save(window, out: Path, name: str) -> None:
    window.grab().save(str(out / name))
    print(f"saved {out / name}")


async def scene(window, app, out: Path, hub_server) -> None:
    from app import theme
    from engine.host import hub

    out.mkdir(parents=True, exist_ok=True)
    chat = window.chat
    if not await window.load_model("demo"):
        raise SystemExit("could not load the demo model")
    chat.panel.preset.setCurrentText("Precise")
    chat.panel.preset.activated.emit(chat.panel.preset.currentIndex())
    for question in ('What does "harbor" mean?', "Can you use it in a sentence?"):
        chat.input.setPlainText(question)
        chat.send()
        await _wait(lambda: chat.busy)
        await _wait(lambda: not chat.busy)
    chat.new_chat()
    chat.input.setPlainText('Define "lighthouse".')
    chat.send()
    await _wait(lambda: chat.busy)
    await _wait(lambda: not chat.busy)
    await window.state.open(window.sidebar.conversations.item(1).data(0x0100))
    await _settle(app)
    _save(window, out, "main-window.png")
    chat.settings_button.setChecked(True)
    await _settle(app)
    _save(window, out, "chat-settings.png")
    chat.settings_button.setChecked(False)

    window.settings_page.theme.setCurrentText("Dark")
    await _settle(app)
    _save(window, out, "chat-dark.png")
    window.settings_page.theme.setCurrentText("Light")
    theme.apply("Light")

    # The message links, and a reply edited by hand (with a code block) on its own branch.
    chat.start_edit(chat.last_reply().id)
    chat.input.setPlainText('"The boats waited in the harbor until the storm passed." In code:\n'
                            "```python\nplaces = {'harbor': 'a sheltered place for ships'}\n"
                            "for word, meaning in places.items():\n    print(f'{word}: {meaning}')  # 1 line\n```")
    chat.send()
    await _wait(lambda: window.state.conversation.path()[-1].stop_reason == "edited")
    await _settle(app)
    _save(window, out, "message-actions.png")

    # A download from the stand-in Hub, typed in as a mirror in Settings.
    real = next(e for e in hub.catalog() if e.filename == STANDIN)
    data = os.urandom(real.size)
    sha = hub_server.add(real.repo, real.filename, data)
    hub_server.slow = 24 * 2**20
    window.settings_page.endpoint.setText(hub_server.url)
    window.settings_page.endpoint.editingFinished.emit()
    entries = [e if e.filename != STANDIN else hub.CatalogEntry(**{**vars(e), "sha256": sha})
               for e in hub.catalog()]
    window.models.set_catalog(entries)
    window.tabs.setCurrentWidget(window.models)
    await window.models.rescan()
    download = window.models.download(next(e for e in entries if e.filename == STANDIN))
    await _wait(lambda: download.done > 0.3 * download.total and download.speed > 0)
    window.models.library.setCurrentItem(window.models.library.topLevelItem(0))
    await _settle(app)
    _save(window, out, "models.png")
    download.cancel()
    await _wait(lambda: download.state == "cancelled")

    window.settings_page.endpoint.setText("https://hf-mirror.com")
    window.settings_page.endpoint.editingFinished.emit()
    window.tabs.setCurrentWidget(window.settings_page)
    await _settle(app)
    _save(window, out, "settings.png")

    await server_scene(window, app, out)


async def language_scene(window, app, out: Path, suffix: str) -> None:
    """The chat with a conversation, the Models, Settings and Server pages (and the Remote server
    dialog) in another language."""
    out.mkdir(parents=True, exist_ok=True)
    if not await window.load_model("demo"):
        raise SystemExit("could not load the demo model")
    chat = window.chat
    for question in ('What does "harbor" mean?', "Can you use it in a sentence?"):
        chat.input.setPlainText(question)
        chat.send()
        await _wait(lambda: chat.busy)
        await _wait(lambda: not chat.busy)
    chat.settings_button.setChecked(True)
    await _settle(app)
    _save(window, out, f"main-window{suffix}.png")
    chat.settings_button.setChecked(False)
    window.tabs.setCurrentWidget(window.models)
    await window.models.rescan()
    await _settle(app)
    _save(window, out, f"models{suffix}.png")
    window.settings_page.endpoint.setText("https://hf-mirror.com")
    window.settings_page.endpoint.editingFinished.emit()
    window.tabs.setCurrentWidget(window.settings_page)
    await _settle(app)
    _save(window, out, f"settings{suffix}.png")
    await server_scene(window, app, out, suffix)


async def first_run_scene(window, app, out: Path) -> None:
    """The card a fresh data folder gets once the demo has loaded (app.main.start shows it)."""
    from app import first_run

    if not await window.load_model("demo"):
        raise SystemExit("could not load the demo model")
    card = first_run.show(window)
    await _settle(app)
    card.grab().save(str(out / "first-run.png"))
    print(f"saved {out / 'first-run.png'}")
    card.reject()


async def search_scene(window, app, out: Path, hub_server) -> None:
    """The Hub search on the Models page, answered from the bundled catalog by the stand-in Hub."""
    from engine.host import hub

    entries = hub.catalog()
    repos = sorted({e.repo for e in entries if e.repo.startswith("BlinkDL/")})
    hub_server.api_answer = [{"_id": str(i), "id": r, "likes": 0, "downloads": 0, "tags": ["rwkv"],
                              "lastModified": "2025-10-05T00:00:00.000Z"} for i, r in enumerate(repos)]
    window.settings_page.endpoint.setText(hub_server.url)
    window.settings_page.endpoint.editingFinished.emit()
    window.tabs.setCurrentWidget(window.models)
    page = window.models.hub_search
    window.models.sources.setCurrentWidget(page)
    page.query.setText("BlinkDL")
    await page.search()
    g1 = next(page.results.topLevelItem(i) for i in range(page.results.topLevelItemCount())
              if page.results.topLevelItem(i).text(0) == "BlinkDL/rwkv7-g1")
    hub_server.api_answer = [{"type": "file", "oid": "0" * 40, "size": e.size, "path": e.filename,
                              "lfs": {"oid": e.sha256, "size": e.size, "pointerSize": 134}}
                             for e in entries if e.repo == "BlinkDL/rwkv7-g1"]
    g1.setExpanded(True)
    await page.list_files(g1)
    page.results.setCurrentItem(g1.child(1))
    await _settle(app)
    _save(window, out, "models-search.png")
    hub_server.api_answer = None


async def server_scene(window, app, out: Path, suffix: str = "") -> None:
    """The local server switched on, and called the way an OpenAI client calls it: a chat, the same
    chat one turn later (its history comes from the state cache), a stream, one without the key."""
    import httpx2

    from app.background import in_thread

    page = window.server_page
    window.tabs.setCurrentWidget(page)
    page.port.setValue(_free_port(8000))
    page.key.setText("sk-local-3f9a")
    page.switch.setChecked(True)
    await _wait(lambda: window.state.server.running)
    url, auth = window.state.server.url, {"Authorization": "Bearer sk-local-3f9a"}
    first = [{"role": "user", "content": 'What does "harbor" mean?'}]

    def calls() -> None:
        with httpx2.Client(base_url=url, headers=auth, timeout=60) as http:
            answer = http.post("/chat/completions", json={"messages": first}).json()
            reply = answer["choices"][0]["message"]["content"]
            again = [*first, {"role": "assistant", "content": reply}, {"role": "user", "content": "And a bay?"}]
            http.post("/chat/completions", json={"messages": again})
            with http.stream("POST", "/chat/completions", json={"messages": first, "stream": True}) as r:
                r.read()
            http.get("/models")
        httpx2.get(f"{url}/models")         # no key: refused

    await in_thread(calls)
    await _wait(lambda: page.log.topLevelItemCount() >= 5)
    await _settle(app)
    _save(window, out, f"server{suffix}.png")

    dialog = window.remote_dialog()
    dialog.url.setText(url)
    dialog.key.setText("sk-local-3f9a")
    await dialog.list_models()
    await _settle(app)
    dialog.grab().save(str(out / f"remote{suffix}.png"))
    print(f"saved {out / f'remote{suffix}.png'}")
    dialog.close()
    await window.state.server.set_enabled(False)


def _free_port(preferred: int) -> int:
    import socket

    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise OSError("no free port")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    p.add_argument("--language", help="draw the interface in this language (e.g. zh_CN): its pages only")
    p.add_argument("--only", default="", help="a comma list: first-run, models-search (default: every screenshot)")
    a = p.parse_args()
    only = {name.strip() for name in a.only.split(",") if name.strip()}
    import qasync
    from PySide6.QtWidgets import QApplication

    from app.settings import Settings
    from app.state import AppState
    from app.window import MainWindow
    from engine.service import EngineService
    from tests.e2e.mock_hub import MockHub

    app = QApplication(sys.argv[:1])
    if a.language:
        from app import i18n

        if i18n.install(a.language, app) != a.language:
            raise SystemExit(f"no translation for {a.language}")
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with tempfile.TemporaryDirectory() as tmp, MockHub() as hub_server:
        settings = Settings(Path(tmp) / "settings.json")
        settings.set("hf_cache", str(Path(tmp) / "hf-cache"))
        state = AppState(EngineService(Path(tmp)), settings)
        window = MainWindow(state)
        window.resize(1200, 760)
        window.show()
        with loop:
            a.out.mkdir(parents=True, exist_ok=True)
            if a.language:
                loop.run_until_complete(language_scene(window, app, a.out, f"-{a.language}"))
            else:
                if not only:
                    loop.run_until_complete(scene(window, app, a.out, hub_server))
                if not only or "first-run" in only:
                    loop.run_until_complete(first_run_scene(window, app, a.out))
                if not only or "models-search" in only:
                    loop.run_until_complete(search_scene(window, app, a.out, hub_server))
        state.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
