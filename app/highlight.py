"""Code blocks in replies, highlighted by Pygments (hundreds of languages) as HTML the chat view draws.

The fence's language name picks the lexer (Pygments knows the usual names and aliases: ``py``,
``js``, ``c++``, ``sh``, ``rust``…); a block without one, or with one Pygments does not know, is
shown as plain escaped text rather than guessed at. Colours are inline styles from a light or a dark
Pygments style, chosen by the theme.
"""

from __future__ import annotations

import html
from functools import lru_cache

from pygments import highlight as _pygments_highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

STYLES = {False: "default", True: "github-dark"}      # by whether the theme is dark


@lru_cache(maxsize=64)
def lexer_for(language: str) -> Lexer | None:
    """Pygments' lexer for a fence's language name, None for none or an unknown one."""
    name = language.strip().lower()
    if not name:
        return None
    try:
        return get_lexer_by_name(name, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return None


@lru_cache(maxsize=2)
def _formatter(dark: bool) -> HtmlFormatter:
    return HtmlFormatter(nowrap=True, noclasses=True, style=STYLES[dark])


@lru_cache(maxsize=256)
def highlight(code: str, language: str, dark: bool = False) -> str:
    """``code`` as HTML (always escaped), with coloured spans when ``language`` is known."""
    lexer = lexer_for(language)
    if lexer is None:
        return html.escape(code)
    out = _pygments_highlight(code, lexer, _formatter(dark))
    return out[:-1] if out.endswith("\n") and not code.endswith("\n") else out
