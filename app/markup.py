"""A reply's text as the HTML the chat view shows: Markdown prose, code blocks highlighted by Pygments.

Fenced code blocks (```lang) are cut out first and drawn by us, each with a ``Copy`` link
(``action:copy:N``, N counting the blocks of the whole view); the prose between them goes through
Qt's own Markdown reader. A fence that has not closed yet (a reply still streaming) is drawn as
code up to the end. Colours come from the palette, so the view follows light and dark themes.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import lru_cache

from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QColor, QPalette, QTextDocument

from .highlight import highlight

_FENCE = re.compile(r"^(?P<fence>```|~~~)[ \t]*(?P<lang>[\w+#.-]*)[^\n]*\n"
                    r"(?P<code>.*?)(?:^(?P=fence)[ \t]*(?:\n|\Z)|\Z)", re.MULTILINE | re.DOTALL)
_BODY = re.compile(r"<body[^>]*>(.*)</body>", re.DOTALL)
_FIXED_COLOUR = re.compile(r"\s*color:#[0-9a-fA-F]{6};")
_LINK = re.compile(r'<a href="(?P<href>[^"]*)">(?P<inner>.*?)</a>', re.DOTALL)
_WEB = re.compile(r"https?://", re.IGNORECASE)
_MARKDOWN = QTextDocument.MarkdownFeature(QTextDocument.MarkdownFeature.MarkdownDialectGitHub.value
                                          | QTextDocument.MarkdownFeature.MarkdownNoHTML.value)


@dataclass(frozen=True)
class Colours:
    text: str
    muted: str
    link: str
    code_bg: str
    user_bg: str
    dark: bool


def colours_for(palette: QPalette) -> Colours:
    """Theme colours for the chat, from the palette (code takes a light or dark Pygments style)."""
    base, text = palette.color(QPalette.Base), palette.color(QPalette.Text)
    dark = base.lightness() < 128
    code_bg = _mix(base, text, 0.07)
    user_bg = _mix(base, palette.color(QPalette.Highlight), 0.10)
    return Colours(text.name(), _mix(base, text, 0.55), palette.color(QPalette.Link).name(), code_bg, user_bg, dark)


def split_fences(text: str) -> list[tuple[str, str | None, str]]:
    """``[(kind, language, text)]`` with kind "prose" or "code", in order."""
    parts: list[tuple[str, str | None, str]] = []
    pos = 0
    for m in _FENCE.finditer(text):
        if m.start() > pos:
            parts.append(("prose", None, text[pos:m.start()]))
        parts.append(("code", m["lang"], m["code"].rstrip("\n")))
        pos = m.end()
    if pos < len(text):
        parts.append(("prose", None, text[pos:]))
    return parts


def body_html(text: str, colours: Colours, code_blocks: list[str]) -> str:
    """One message's text as HTML; its code blocks are appended to ``code_blocks`` for Copy."""
    out = []
    for kind, lang, part in split_fences(text):
        if kind == "prose":
            if part.strip():
                out.append(prose_html(part))
            continue
        n = len(code_blocks)
        code_blocks.append(part)
        label = html.escape(lang or "code")
        copy = QCoreApplication.translate("ChatView", "Copy")
        out.append(
            f'<table width="100%" cellspacing="0" cellpadding="6" bgcolor="{colours.code_bg}">'
            f'<tr><td><span style="color:{colours.muted};">{label}</span></td>'
            f'<td align="right"><a href="action:copy:{n}">{copy}</a></td></tr>'

            f'<tr><td colspan="2"><pre style="font-family:monospace;">{highlight(part, lang or "", colours.dark)}'
            "</pre></td></tr></table>")
    return "".join(out)


@lru_cache(maxsize=1024)
def prose_html(markdown: str) -> str:
    """Markdown through Qt's reader, without the fixed colours Qt writes (links follow the theme).

    A message is text from a model or a file, never markup of ours: HTML in it is shown as text,
    and only http(s) links stay links (a ``file:`` link, or one with the app's own ``action:``
    scheme, becomes its plain text)."""
    doc = QTextDocument()
    doc.setMarkdown(markdown, _MARKDOWN)
    m = _BODY.search(doc.toHtml())
    body = _FIXED_COLOUR.sub("", m.group(1) if m else html.escape(markdown))
    return _LINK.sub(lambda a: a[0] if _WEB.match(html.unescape(a["href"])) else a["inner"], body)


@lru_cache(maxsize=4096)
def plain_title(text: str) -> str:
    """A title (the first line of a message, often Markdown) as plain text for lists and tooltips:
    ``**bold**``, ``# heading``, backticks and link syntax are read as Markdown and dropped."""
    doc = QTextDocument()
    doc.setMarkdown(text, _MARKDOWN)
    plain = " ".join(doc.toPlainText().split())
    return plain or text.strip()


def _mix(a: QColor, b: QColor, t: float) -> str:
    return QColor(round(a.red() + (b.red() - a.red()) * t), round(a.green() + (b.green() - a.green()) * t),
                  round(a.blue() + (b.blue() - a.blue()) * t)).name()
