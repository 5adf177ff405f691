"""A small syntax highlighter for code blocks in replies: comments, strings, numbers, keywords.

Regular expressions, one combined pattern per family of languages, turned into HTML spans with
colours from the current theme. It is meant to make a reply's code easy to read, not to parse it:
a construct it does not know is left plain, never mangled.
"""

from __future__ import annotations

import html
import re
from functools import cache

_PY = """and as assert async await break class continue def del elif else except False finally for from global
if import in is lambda None nonlocal not or pass raise return True try while with yield match case self""".split()
_JS = """async await break case catch class const continue default delete do else export extends false finally
for function if import in instanceof let new null of return static super switch this throw true try typeof
undefined var void while yield interface type enum implements private public protected readonly""".split()
_C = """auto bool break case catch char class const constexpr continue default delete do double else enum
explicit extern false float for fn func go goto if impl import include int let long loop match mod mut
namespace new nullptr package pub private protected public return self short signed sizeof static
struct switch template this throw true try typedef typename union unsigned use using var virtual void
volatile while String boolean byte final extends implements interface defer chan map range type""".split()
_SH = """if then else elif fi for while do done case esac in function return export local echo cd set
unset source exit""".split()
_SQL = """select from where insert into values update set delete create table drop alter join left right
inner outer on group by order having limit as and or not null primary key index distinct union""".split()

_FAMILIES = {
    "python": ("#", ('"""', "'''"), _PY),
    "js": ("//", ("`",), _JS),
    "c": ("//", (), _C),
    "sh": ("#", (), _SH),
    "sql": ("--", (), _SQL),
    "json": (None, (), ["true", "false", "null"]),
}
_ALIASES = {"py": "python", "python3": "python", "javascript": "js", "ts": "js", "typescript": "js",
            "jsx": "js", "tsx": "js", "cpp": "c", "c++": "c", "h": "c", "hpp": "c", "java": "c",
            "rust": "c", "rs": "c", "go": "c", "cs": "c", "csharp": "c", "kotlin": "c", "swift": "c",
            "bash": "sh", "shell": "sh", "zsh": "sh", "console": "sh", "powershell": "sh"}


def family(language: str) -> str | None:
    lang = language.strip().lower()
    lang = _ALIASES.get(lang, lang)
    return lang if lang in _FAMILIES else None


@cache
def _pattern(name: str) -> re.Pattern[str]:
    line_comment, long_strings, keywords = _FAMILIES[name]
    parts = []
    comments = []
    if line_comment:
        comments.append(re.escape(line_comment) + r"[^\n]*")
    if name in ("js", "c"):
        comments.append(r"/\*[\s\S]*?(?:\*/|$)")
    if comments:
        parts.append(f"(?P<comment>{'|'.join(comments)})")
    strings = [re.escape(q) + r"[\s\S]*?(?:" + re.escape(q) + "|$)" for q in long_strings]
    strings += [r'"(?:\\.|[^"\\\n])*"?', r"'(?:\\.|[^'\\\n])*'?"] if name != "c" else [r'"(?:\\.|[^"\\\n])*"?']
    if name == "c":
        strings.append(r"'(?:\\.|[^'\\\n]){1,2}'")       # char literals, not Rust lifetimes
    parts.append(f"(?P<string>{'|'.join(strings)})")
    parts.append(r"(?P<number>\b(?:0[xX][0-9a-fA-F_]+|\d[\d_]*(?:\.\d+)?(?:[eE][+-]?\d+)?)\b)")
    flags = re.IGNORECASE if name == "sql" else 0
    parts.append(r"(?P<keyword>\b(?:" + "|".join(map(re.escape, keywords)) + r")\b)")
    return re.compile("|".join(parts), flags)


def highlight(code: str, language: str, colours: dict[str, str]) -> str:
    """``code`` as HTML (escaped), with spans coloured by ``colours[kind]`` for each known kind."""
    name = family(language)
    if name is None:
        return html.escape(code)
    out, pos = [], 0
    for m in _pattern(name).finditer(code):
        out.append(html.escape(code[pos:m.start()]))
        kind = m.lastgroup
        text = html.escape(m.group())
        weight = " font-weight:600;" if kind == "keyword" else ""
        out.append(f'<span style="color:{colours[kind]};{weight}">{text}</span>')
        pos = m.end()
    out.append(html.escape(code[pos:]))
    return "".join(out)
