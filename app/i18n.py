"""The interface's language: English (the language of the sources) or a translation compiled by
Qt's lrelease, from ``resources/translations`` (read through importlib.resources, so the same
lookup works from a checkout, a wheel and the PyInstaller bundle).

The choice is the ``language`` preference: ``"system"`` (the default) follows the system's UI
languages, else one of :data:`LANGUAGES`. Translators are installed on the application before any
window is built; a change in Settings applies at the next start.

Adding a language: add it to :data:`LANGUAGES`, create its catalogue with
``python -m app.i18n update --add xx_YY``, translate it (Qt Linguist or any editor), and run
``python -m app.i18n update`` again. The same command re-extracts every ``self.tr(...)`` and
``QCoreApplication.translate(...)`` string of ``app/`` into the catalogues (pyside6-lupdate) and
recompiles them (pyside6-lrelease); the compiled ``.qm`` files are committed, and
``tests/gui/test_i18n.py`` fails when a catalogue and the sources or the ``.qm`` disagree.

The engine has no Qt and speaks English (its command line and server stay so). Its messages written
as templates with values (:class:`engine.errors.EngineError`) reach the window translated: the same
command lists every literal template of the engine in ``app/engine_texts.py`` (context "engine"),
and :func:`engine_text` / :func:`error_text` translate the template and fill in the values.
"""

from __future__ import annotations

import argparse
import ast
import json
import logging
import shutil
import subprocess
import sys
from collections.abc import Iterable
from importlib.resources import files
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

log = logging.getLogger(__name__)

# Code -> the language's name in itself (what a reader of that language looks for in a list).
LANGUAGES = {"en": "English", "zh_CN": "简体中文"}
SOURCE_LANGUAGE = "en"
CATALOGUE_PREFIX = "rwkv_desktop_"
# Regions and scripts that mean Traditional Chinese, which zh_CN is not.
_TRADITIONAL = {"hant", "tw", "hk", "mo"}

_installed: list[QTranslator] = []
_active = SOURCE_LANGUAGE


def resolve(choice: str | None, ui_languages: Iterable[str] | None = None) -> str:
    """The language a choice means: itself, or for "system" (or anything unknown) the first of the
    system's UI languages that the app speaks, else English."""
    if choice in LANGUAGES:
        return choice
    for tag in QLocale.system().uiLanguages() if ui_languages is None else ui_languages:
        parts = tag.replace("_", "-").lower().split("-")
        for code in LANGUAGES:
            if parts[0] == code.split("_")[0] and not (parts[0] == "zh" and _TRADITIONAL & set(parts[1:])):
                return code
    return SOURCE_LANGUAGE


def saved_choice(settings_file: Path) -> str:
    """The ``language`` preference of a settings file, read without touching it ("system" if the
    file is missing or damaged: :class:`app.settings.Settings` deals with those when it opens it)."""
    try:
        choice = json.loads(settings_file.read_text(encoding="utf-8")).get("language", "system")
    except (OSError, ValueError, AttributeError):
        return "system"
    return choice if isinstance(choice, str) else "system"


def active() -> str:
    """The language the interface is drawn in now."""
    return _active


def catalogue(code: str) -> bytes | None:
    """The compiled catalogue (``.qm``) of a language, or None where there is none."""
    try:
        return files("resources").joinpath("translations", f"{CATALOGUE_PREFIX}{code}.qm").read_bytes()
    except (OSError, ValueError):
        return None


def translator_for(code: str) -> QTranslator | None:
    """A translator loaded with the app's catalogue for ``code`` (None for English, or if missing)."""
    if code == SOURCE_LANGUAGE:
        return None
    data = catalogue(code)
    if data is None:
        log.warning("no translation for %s: the interface stays in English", code)
        return None
    translator = QTranslator()
    translator._data = data             # QTranslator reads the bytes in place: keep them alive with it
    if not translator.load(data):
        log.warning("the %s translation could not be read: the interface stays in English", code)
        return None
    return translator


def engine_text(message: str, template: str = "", values: Iterable[tuple[str, object]] = ()) -> str:
    """An engine message (or title) in the interface's language: ``template`` translated with
    ``values`` filled in, or a literal ``message`` translated; the English ``message`` wherever no
    translation applies (a message not written as a template, a language without the string)."""
    values = dict(values)
    if not template or not values:
        return QCoreApplication.translate("engine", template or message)
    translated = QCoreApplication.translate("engine", template)
    if translated == template:          # one message joined to another: each paragraph on its own
        paragraphs = [QCoreApplication.translate("engine", p) for p in template.split("\n\n")]
        translated = "\n\n".join(paragraphs)
        if translated == template:
            return message
    try:
        return translated.format(**values)
    except (KeyError, IndexError, ValueError, AttributeError, TypeError):   # a translation that names another value
        log.warning("the translation of %r does not fit its values", template)
        return message


def error_text(error: BaseException) -> str:
    """What the window shows for an error: an engine error in the interface's language, anything
    else as it says itself."""
    from engine.errors import EngineError

    if not isinstance(error, EngineError):
        return str(error)
    return engine_text(str(error), error.template, error.values.items())


def _qt_translator(code: str) -> QTranslator | None:
    """Qt's own translation of its standard dialogs and buttons, where the Qt build ships one."""
    import PySide6

    translator = QTranslator()
    # Where Qt says its translations are, else where the PySide6 wheel (and PyInstaller, which
    # collects qtbase_* with QtCore) puts them.
    for folder in (QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath),
                   str(Path(PySide6.__file__).parent / "Qt" / "translations")):
        if translator.load(f"qtbase_{code}", folder):
            return translator
    return None


def install(choice: str | None, app: QCoreApplication | None = None) -> str:
    """Put the interface in the chosen language (replacing any installed before); returns the
    language used. A missing or unreadable catalogue leaves English, with a warning in the log."""
    global _active
    app = app or QCoreApplication.instance()
    for translator in _installed:
        app.removeTranslator(translator)
    _installed.clear()
    code = resolve(choice)
    ours = translator_for(code)
    if ours is None:
        _active = SOURCE_LANGUAGE
        return _active
    for translator in (_qt_translator(code), ours):
        if translator is not None and app.installTranslator(translator):
            _installed.append(translator)
    _active = code
    return _active


# -- keeping the catalogues up to date (a developer's command, run from a checkout) ------------------

ROOT = Path(__file__).resolve().parents[1]
TRANSLATIONS = ROOT / "resources" / "translations"


def _tool(name: str) -> str:
    """A Qt tool of the PySide6 wheel (pyside6-lupdate, pyside6-lrelease), next to this Python first."""
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} not found: it comes with the PySide6 wheel (pip install PySide6)")
    return found


ENGINE_TEXTS = ROOT / "app" / "engine_texts.py"
# The engine's parts whose messages only English-speaking readers meet: the command line and the
# OpenAI-compatible server (whose error texts are part of its API), except the server's start,
# which the window's Server page reports.
_ENGINE_ENGLISH_ONLY = ("server", "tools")
_ENGINE_SHOWN_ANYWAY = ("server/runner.py",)


def sources() -> list[Path]:
    return sorted((ROOT / "app").rglob("*.py"))


def engine_templates(root: Path = ROOT / "engine") -> list[str]:
    """Every literal message of the engine the window may show: the first argument of a call to an
    ``...Error`` (or ``...Cancelled``) class, the title and message of a ``Failed`` event or a
    ``Told``, a template marked with :func:`engine.errors.said`, and the titles in
    ``engine/service/failures.py``'s tables."""
    found: set[str] = set()
    for path in sorted(root.rglob("*.py")):
        where = path.relative_to(root)
        if where.parts[0] in _ENGINE_ENGLISH_ONLY and where.as_posix() not in _ENGINE_SHOWN_ANYWAY:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
                picks = node.args[:1] if name.endswith(("Error", "Cancelled")) or name == "said" else \
                    node.args[2:4] if name == "Failed" else node.args[:2] if name == "Told" else []
                found.update(a.value for a in picks if isinstance(a, ast.Constant) and isinstance(a.value, str))
            elif isinstance(node, ast.Assign) and path.name == "failures.py" and isinstance(node.value, ast.Dict):
                found.update(v.value for v in node.value.values
                             if isinstance(v, ast.Constant) and isinstance(v.value, str))
    return sorted(t for t in found if t.strip())


def engine_texts_source(templates: Iterable[str]) -> str:
    """``app/engine_texts.py`` as :func:`main` writes it."""
    lines = ["# ruff: noqa: E501",
             '"""The engine\'s messages, for Qt\'s translation tools (context "engine"); written by',
             '``python -m app.i18n update`` from the engine\'s sources: do not edit (see app/i18n.py)."""', "",
             "from PySide6.QtCore import QT_TRANSLATE_NOOP", "", "TEXTS = ("]
    lines += [f'    QT_TRANSLATE_NOOP("engine", {template!r}),' for template in templates]
    return "\n".join([*lines, ")", ""])


def lupdate(ts_files: Iterable[Path], source_files: Iterable[Path] | None = None) -> None:
    """Extract the strings of the sources into the catalogues (strings no longer in the sources are
    dropped; translations of strings still there are kept)."""
    paths = [str(p) for p in (sources() if source_files is None else source_files)]
    for ts in ts_files:
        code = ts.stem.removeprefix(CATALOGUE_PREFIX)
        subprocess.run([_tool("pyside6-lupdate"), *paths, "-no-obsolete", "-locations", "absolute",
                        "-source-language", SOURCE_LANGUAGE, "-target-language", code, "-ts", str(ts)],
                       check=True, stdout=subprocess.DEVNULL)


def lrelease(ts: Path, qm: Path) -> None:
    subprocess.run([_tool("pyside6-lrelease"), "-silent", str(ts), "-qm", str(qm)], check=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m app.i18n", description="Keep the translations up to date.")
    sub = p.add_subparsers(dest="command", required=True)
    update = sub.add_parser("update", help="re-extract the strings of app/ (and the engine's messages, "
                                                "app/engine_texts.py) into every catalogue and compile them")
    update.add_argument("--add", metavar="CODE", action="append", default=[],
                        help="also create a catalogue for this language (e.g. ja_JP)")
    args = p.parse_args(argv)
    catalogues = sorted(TRANSLATIONS.glob(f"{CATALOGUE_PREFIX}*.ts"))
    catalogues += [ts for ts in (TRANSLATIONS / f"{CATALOGUE_PREFIX}{code}.ts" for code in args.add)
                   if ts not in catalogues]
    ENGINE_TEXTS.write_text(engine_texts_source(engine_templates()), encoding="utf-8")
    lupdate(catalogues)
    for ts in catalogues:
        lrelease(ts, ts.with_suffix(".qm"))
        print(f"updated {ts.relative_to(ROOT)} and {ts.with_suffix('.qm').name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
