"""The Qt binding keeps its references straight when Python code emits signals.

The window's state object (app.state) emits a signal for every streamed piece of a reply; PySide6
6.12.0 lost a reference to ``True`` on every Python-side ``Signal.emit`` and aborted the process a
few hundred emits later ("Fatal Python error: bool_dealloc"), so pyproject.toml excludes it.
"""

from __future__ import annotations

import sys
import threading

from PySide6.QtCore import QObject, Signal


class _Source(QObject):
    piece = Signal(object)
    tick = Signal()


def test_emitting_thousands_of_signals_keeps_true_and_false_alive(qapp):
    source, got = _Source(), []
    source.piece.connect(got.append)
    source.tick.connect(lambda: got.append(None))
    before = sys.getrefcount(True), sys.getrefcount(False)
    for i in range(2000):
        source.piece.emit(i)
        source.tick.emit()
    worker = threading.Thread(target=lambda: [source.piece.emit(i) for i in range(2000)])
    worker.start()
    worker.join()
    qapp.processEvents()
    assert len(got) == 6000
    assert abs(sys.getrefcount(True) - before[0]) < 50 and abs(sys.getrefcount(False) - before[1]) < 50
