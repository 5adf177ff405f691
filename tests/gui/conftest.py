"""GUI tests run the real window offscreen.

PySide6 6.12 on Python 3.11 sometimes aborts while the interpreter collects its last Qt wrappers
at exit ("Fatal Python error: bool_dealloc", after every test has passed; seen with and without
our window's newest widgets, about one run in two). The crash is in the binding, after pytest has
reported; so once everything is reported, the process leaves with pytest's own exit status
without that final collection.
"""

from __future__ import annotations

import os
import sys

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
_status: list[int] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _status.append(int(exitstatus))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    if _status:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_status[-1])
