"""The layers of DESIGN.md, checked on the source: arrows point down only.

app/ -> engine's public surface -> kernels/; engine never learns that Qt exists, kernels never
learn about files or conversations, and ``import engine`` stays cheap (no torch until a model is
touched).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# What the window may import from the engine: its public surface (engine.host's modules included), and the
# server it runs for other apps (engine.server: ServerThread, RequestRecord).
APP_MAY_USE = ("engine", "engine.service", "engine.server", "engine.host", "engine.errors", "engine.atomic")
APP_MAY_USE_BELOW = ("engine.host.",)


def _imports(package: str) -> dict[str, set[str]]:
    """Every module each file of ``package`` imports (absolute names; relative ones resolved)."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        mod = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = mod.split(".")[: -node.level] if path.name != "__init__.py" else \
                        mod.split(".")[: len(mod.split(".")) - node.level + 1]
                    names.add(".".join(base + ([node.module] if node.module else [])))
                else:
                    names.add(node.module or "")
        found[str(path.relative_to(ROOT))] = names
    return found


def _offending(package: str, allowed) -> dict[str, list[str]]:
    out = {}
    for path, names in _imports(package).items():
        bad = sorted(n for n in names if not allowed(n))
        if bad:
            out[path] = bad
    return out


def test_engine_never_imports_qt_or_the_app():
    assert _offending("engine", lambda n: n.split(".")[0] not in ("PySide6", "qasync", "app")) == {}


def test_kernels_import_nothing_of_ours_above_them():
    assert _offending("kernels", lambda n: n.split(".")[0] not in ("engine", "app", "PySide6")) == {}


def test_the_app_uses_only_the_engines_public_surface():
    def allowed(name: str) -> bool:
        return not name.startswith("engine") or name in APP_MAY_USE or name.startswith(APP_MAY_USE_BELOW)

    assert _offending("app", allowed) == {}


def test_import_engine_is_cheap():
    code = "import sys, engine, engine.errors; print(sorted(m for m in ('torch', 'PySide6') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr[-2000:]
