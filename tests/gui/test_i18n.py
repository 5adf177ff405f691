"""The interface in English and Simplified Chinese: real translators on the real application, the
real Settings and Server pages drawn in the language chosen, the choice saved and used at the next
start, English when a catalogue is missing or damaged; and the catalogues themselves checked against
the sources (pyside6-lupdate) and the compiled ``.qm`` files (which are committed)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QTranslator
from PySide6.QtWidgets import QMenu

from app import i18n

TRANSLATIONS = i18n.TRANSLATIONS
CATALOGUES = sorted(TRANSLATIONS.glob(f"{i18n.CATALOGUE_PREFIX}*.ts"))


@pytest.fixture
def language(qapp):
    """``language(choice)`` installs translators on the test application; English again afterwards."""
    yield lambda choice: i18n.install(choice, qapp)
    i18n.install("en", qapp)


def _messages(ts: Path) -> list[tuple[str, str, str, ET.Element]]:
    """(context, source, file the string is in, <translation>) for every message of a catalogue."""
    out = []
    for context in ET.parse(ts).getroot().iter("context"):
        name = context.findtext("name")
        for message in context.iter("message"):
            location = message.find("location")
            source_file = str((ts.parent / location.get("filename")).resolve()) if location is not None else ""
            out.append((name, message.findtext("source"), source_file, message.find("translation")))
    return out


def test_the_system_language_is_followed_unless_one_is_chosen():
    assert i18n.resolve("system", ["zh-Hans-CN", "en-US"]) == "zh_CN"
    assert i18n.resolve("system", ["de-DE", "zh_CN"]) == "zh_CN"       # the first one the app speaks
    assert i18n.resolve("system", ["en-GB", "zh-CN"]) == "en"
    assert i18n.resolve("system", ["zh-TW"]) == "en"                    # Traditional is not zh_CN
    assert i18n.resolve("system", ["zh-Hant-HK"]) == "en"
    assert i18n.resolve("system", ["fr-FR"]) == "en"
    assert i18n.resolve("zh_CN", ["en-US"]) == "zh_CN"
    assert i18n.resolve("en", ["zh-CN"]) == "en"
    assert i18n.resolve("klingon", ["zh-CN"]) == "zh_CN"                # unknown: as "system"


def test_the_pages_speak_chinese_when_chosen(make_window, language, loop):
    assert language("zh_CN") == "zh_CN" and i18n.active() == "zh_CN"
    win = make_window()
    settings, server = win.settings_page, win.server_page
    titles = {box.title() for box in _boxes(settings)}
    assert {"模型", "外观", "硬件"} <= titles
    assert settings.theme.itemText(0) == "跟随系统" and settings.theme.currentData() == "System"
    assert "精度" in settings.hardware.text() or settings.hardware.text() == "未检测到任何设备。"
    assert server.switch.text() == "向其他应用提供已加载的模型（OpenAI 兼容 API）"
    assert server.status.text().startswith("已关闭。")
    assert [server.log.headerItem().text(i) for i in range(6)] == \
        ["时间", "接口", "提示词 token（已缓存）", "回复 token", "token/秒", "状态"]
    assert {box.title() for box in _boxes(server)} == {"本地服务器", "请求"}
    # Qt's own strings (standard buttons) come from the qtbase catalogue of the Qt build.
    assert QCoreApplication.translate("QPlatformTheme", "Cancel") == "取消"
    dialog = win.remote_dialog()
    assert dialog.windowTitle() == "远程服务器（OpenAI 兼容）" and dialog.list_button.text() == "列出模型"
    dialog.close()
    # The window, the chat, the sidebar and the Models page too.
    assert [win.tabs.tabText(i) for i in range(4)] == ["对话", "模型", "服务器", "设置"]
    assert [m.title() for m in win.menuBar().findChildren(QMenu)][:3] == ["文件(&F)", "编辑(&E)", "帮助(&H)"]
    assert win.chat.send_button.text() == "发送" and win.chat.regen_button.text() == "重新生成"
    assert win.sidebar.new_button.text() == "新对话" and win.sidebar.search.placeholderText() == "搜索对话"
    assert win.chat.panel.preset.itemText(win.chat.panel.preset.count() - 1) == "自定义"
    header = win.models.library.headerItem()
    assert [header.text(i) for i in range(4)] == ["模型", "代", "参数量", "精度"]
    assert win.models.sources.tabText(2) == "状态库"



def test_the_pages_speak_english_when_chosen(make_window, language):
    assert language("en") == "en"
    win = make_window()
    assert {box.title() for box in _boxes(win.settings_page)} >= {"Models", "Appearance", "Hardware"}
    assert win.server_page.switch.text() == "Serve the loaded model to other apps (OpenAI-compatible API)"
    assert win.server_page.status.text().startswith("Off.")
    assert QCoreApplication.translate("QPlatformTheme", "Cancel") == "Cancel"


def test_the_choice_is_saved_and_used_at_the_next_start(make_window, language, tmp_path):
    language("en")
    folder = tmp_path / "data"
    page = make_window(folder).settings_page
    assert page.language.currentData() == "system" and not page.language_note.isVisibleTo(page)
    page.language.setCurrentIndex(page.language.findData("zh_CN"))
    # Said in the language in use and in the one chosen, since the window stays as it is until then.
    assert page.language_note.isVisibleTo(page)
    assert page.language_note.text() == \
        "Restart RWKV Desktop to use the new language.\n重启 RWKV Desktop 后即可使用新语言。"
    assert i18n.saved_choice(folder / "settings.json") == "zh_CN"
    page.language.setCurrentIndex(page.language.findData("en"))             # back to what is in use: no note
    assert not page.language_note.isVisibleTo(page)
    page.language.setCurrentIndex(page.language.findData("zh_CN"))

    assert language(i18n.saved_choice(folder / "settings.json")) == "zh_CN"    # what app.main does at start
    again = make_window(folder).settings_page
    assert again.language.currentData() == "zh_CN" and again.language.currentText() == "简体中文"
    assert {box.title() for box in _boxes(again)} >= {"模型", "外观"}


def test_leaving_chinese_the_note_is_in_english_too(make_window, language):
    language("zh_CN")
    page = make_window().settings_page
    assert page.language.itemText(0).startswith("跟随系统（")
    page.language.setCurrentIndex(page.language.findData("en"))
    assert page.language_note.text() == \
        "重启 RWKV Desktop 后即可使用新语言。\nRestart RWKV Desktop to use the new language."


def test_a_missing_or_damaged_settings_file_means_the_system_language(tmp_path):
    assert i18n.saved_choice(tmp_path / "none.json") == "system"
    (tmp_path / "bad.json").write_bytes(b"\x00{not json")
    assert i18n.saved_choice(tmp_path / "bad.json") == "system"
    (tmp_path / "list.json").write_text("[1, 2]")
    assert i18n.saved_choice(tmp_path / "list.json") == "system"
    (tmp_path / "bad.json").read_bytes()                                   # read only: nothing moved


@pytest.mark.parametrize("catalogue", [None, b"not a Qt catalogue"], ids=["missing", "damaged"])
def test_without_a_usable_catalogue_the_interface_stays_english(make_window, language, monkeypatch, caplog,
                                                                catalogue):
    monkeypatch.setattr(i18n, "catalogue", lambda code: catalogue)
    assert language("zh_CN") == "en" and i18n.active() == "en"
    assert "stays in English" in caplog.text
    win = make_window()
    assert win.server_page.switch.text() == "Serve the loaded model to other apps (OpenAI-compatible API)"
    assert QCoreApplication.translate("QPlatformTheme", "Cancel") == "Cancel"   # not half translated


def _boxes(widget):
    from PySide6.QtWidgets import QGroupBox

    return widget.findChildren(QGroupBox)


# -- the catalogues --------------------------------------------------------------------------------

def test_there_is_a_catalogue_for_every_language_but_english():
    assert {ts.stem.removeprefix(i18n.CATALOGUE_PREFIX) for ts in CATALOGUES} == set(i18n.LANGUAGES) - {"en"}


@pytest.mark.parametrize("ts", CATALOGUES, ids=lambda p: p.stem)
def test_every_string_is_translated_with_the_same_placeholders(ts):
    for context, source, _, translation in _messages(ts):
        where = f"{ts.name}: {context}: {source!r}"
        assert translation.get("type") not in ("unfinished", "vanished", "obsolete"), f"not translated: {where}"
        assert (translation.text or "").strip(), f"empty translation: {where}"
        # The code fills these in with str.format: a missing or renamed one is a KeyError at run time.
        fields = r"\{\w*(?::[^{}]*)?\}"             # with a format spec, as the engine's "{gib:.1f}"
        assert sorted(re.findall(fields, translation.text)) == sorted(re.findall(fields, source)), where
        assert re.findall(r"</?\w+>", translation.text) == re.findall(r"</?\w+>", source), where


@pytest.mark.parametrize("ts", CATALOGUES, ids=lambda p: p.stem)
def test_the_compiled_catalogue_is_the_current_one(ts):
    """The committed .qm answers every string as the .ts says (run ``python -m app.i18n update``)."""
    translator = QTranslator()
    assert translator.load(str(ts.with_suffix(".qm")))
    for context, source, _, translation in _messages(ts):
        assert translator.translate(context, source) == translation.text, \
            f"{ts.with_suffix('.qm').name} is stale at {context}: {source!r}: run python -m app.i18n update"


@pytest.mark.parametrize("ts", CATALOGUES, ids=lambda p: p.stem)
def test_the_catalogue_agrees_with_the_sources(ts, tmp_path):
    """Every translatable string of every file of app/ is in it, and nothing in it has left the sources."""
    fresh = tmp_path / ts.name
    i18n.lupdate([fresh])
    extracted = {(c, s, f) for c, s, f, _ in _messages(fresh)}
    catalogued = {(c, s, f) for c, s, f, _ in _messages(ts)}
    assert catalogued - extracted == set(), "no longer in the sources: run python -m app.i18n update"
    assert extracted - catalogued == set(), "not in the catalogue: run python -m app.i18n update and translate"
    # Every page and dialog of the window speaks through the catalogue.
    app_dir = Path(i18n.__file__).parent
    wrapped = {Path(f).name for _, _, f in catalogued}
    assert {"window.py", "chat_page.py", "chat_view.py", "chat_settings.py", "sidebar.py", "models_page.py",
            "downloads.py", "hub_search.py", "state_library.py", "first_run.py", "precision_probe.py", "state.py",
            "markup.py", "completion_panel.py", "settings_page.py", "server_page.py", "remote_dialog.py",
            "data_folder.py", "local_server.py"} <= wrapped, sorted(wrapped)
    assert all((app_dir / name).exists() for name in wrapped)



def test_the_engines_messages_listed_for_translation_are_its_current_ones():
    """app/engine_texts.py is what ``python -m app.i18n update`` writes from the engine's sources now."""
    assert i18n.ENGINE_TEXTS.read_text(encoding="utf-8") == i18n.engine_texts_source(i18n.engine_templates()), \
        "the engine's messages changed: run python -m app.i18n update and translate"
    templates = i18n.engine_templates()
    assert "There is no message {message} in this conversation." in templates
    assert "Could not load the model" in templates                      # a title of engine/service/failures.py
    assert not any("--port" in t or "api_key" in t for t in templates)  # the CLI's and the server's stay English


def test_an_engine_message_is_shown_in_the_interfaces_language_with_its_values(language):
    from engine.errors import EngineError

    english = "There is no message 999 in this conversation."
    template, values = "There is no message {message} in this conversation.", (("message", 999),)
    assert language("zh_CN") == "zh_CN"
    translated = i18n.engine_text(english, template, values)
    assert translated != english and "999" in translated
    assert i18n.error_text(EngineError(template, message=999)) == translated
    title = "Could not load the model"
    assert i18n.engine_text(title) == QCoreApplication.translate("engine", title) != title
    # A message not written as a template, or one the catalogue lacks, stays English rather than wrong.
    assert i18n.engine_text("Something only said once.") == "Something only said once."
    assert i18n.engine_text("No message 3.", "No message {n}.", (("n", 3),)) == "No message 3."
    assert i18n.error_text(OSError("disk full")) == "disk full"
    # A message joined to another (a refused state-tuning file, then what it left as it was): each
    # paragraph translated on its own.
    joined = "There is no message {message} in this conversation.\n\nThe model ({loaded}) is unchanged; new " \
             "chats start as before."
    both = i18n.engine_text("x", joined, (("message", 7), ("loaded", "demo")))
    assert "\n\n" in both and "7" in both and "demo" in both and "unchanged" not in both and "no message" not in both
    language("en")
    assert i18n.engine_text(english, template, values) == english


def test_a_failure_of_the_engine_is_told_in_chinese(make_window, language, loop, tmp_path):
    """The engine's own words (a title of engine/service/failures.py, a message template with its
    value) reach the window's dialog translated."""
    from tests.gui.util import run

    assert language("zh_CN") == "zh_CN"
    win = make_window()
    missing = str(tmp_path / "nowhere.pth")
    assert not run(loop, win.load_model(missing))
    title, message = win.failure
    assert title == QCoreApplication.translate("engine", "Could not load the model") != "Could not load the model"
    assert missing in message and "No model at" not in message
    assert re.search(r"[\u4e00-\u9fff]", message), message


def test_the_update_command_keeps_translations_and_drops_what_left(tmp_path):
    source = tmp_path / "page.py"
    source.write_text('from PySide6.QtCore import QCoreApplication\n'
                      'QCoreApplication.translate("Page", "Kept")\nQCoreApplication.translate("Page", "Gone")\n')
    ts = tmp_path / f"{i18n.CATALOGUE_PREFIX}zh_CN.ts"
    i18n.lupdate([ts], [source])
    tree = ET.parse(ts)
    for translation in tree.getroot().iter("translation"):
        translation.text, translation.attrib = "保留", {}
    tree.write(ts, encoding="utf-8")
    source.write_text('from PySide6.QtCore import QCoreApplication\n'
                      'QCoreApplication.translate("Page", "Kept")\nQCoreApplication.translate("Page", "New")\n')
    i18n.lupdate([ts], [source])
    got = {s: t for _, s, _, t in _messages(ts)}
    assert set(got) == {"Kept", "New"}
    assert got["Kept"].text == "保留" and got["Kept"].get("type") is None
    assert got["New"].get("type") == "unfinished"          # (lupdate may fill in a guess, marked as such)
    i18n.lrelease(ts, ts.with_suffix(".qm"))
    translator = QTranslator()
    assert translator.load(str(ts.with_suffix(".qm"))) and translator.translate("Page", "Kept") == "保留"


def test_no_string_is_translated_inside_an_f_string():
    """pyside6-lupdate does not look inside f-strings: a ``tr()`` there is never in the catalogue and
    stays English (the message links were, once)."""
    import ast

    hidden = []
    for source in sorted(Path(i18n.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.JoinedStr):
                for call in ast.walk(node):
                    if isinstance(call, ast.Call) and getattr(call.func, "attr", None) in ("tr", "translate"):
                        hidden.append(f"{source.name}:{call.lineno}")
    assert hidden == []
