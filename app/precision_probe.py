"""Measure which CPU precision is fastest for the loaded model, once per model, off the Qt thread.

After a model on this computer loads, and once no reply is being written, :func:`engine.host.probe.probe`
runs on a worker thread (a few seconds) and its result is kept in the settings under the model's
fingerprint (``precision_probes``, the newest last, at most ``KEEP``). The hardware picker's star and
its tooltip, and the catalog's pick, read it from there (:func:`measured`, :func:`latest`). The setting
``measure_precisions`` (default on) turns the probe off.

One rule for every star: a model is costed with its own probe once it was measured, and before that
with this CPU's newest probe of another model (:func:`for_model`). Speed ratios between precisions
carry over between models on one CPU; quality mostly does too, and a bigger trained model loses less to
quantisation than a small one. The catalog's pick, the picker's star, the Models page and what "auto"
loads therefore agree, and a model's own probe (run after its first load) corrects them.

The precision setting "auto" (until the user picks one) loads a model in what the star says for it
(:func:`auto_precision`); with no probe at all on this CPU, the first precision that fits. A model's
fingerprint is only known once it is loaded, so each loaded model's path is remembered with it
(``model_fingerprints``, :func:`remember`).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from PySide6.QtCore import QObject

from engine.errors import EngineError
from engine.host import hardware, probe
from engine.host.library import FileInfo
from engine.host.probe import ProbeResult

from .background import in_thread
from .i18n import error_text

KEEP = 20
KEEP_PATHS = 100        # model paths remembered with their fingerprints


def measured(settings, fingerprint: str | None) -> ProbeResult | None:
    """The stored probe of the model with ``fingerprint``, if any and measured with these kernels,
    instruction set and threads (:meth:`ProbeResult.current`; otherwise the model is measured again)."""
    stored = settings.get("precision_probes") or {}
    if not isinstance(stored, dict) or not fingerprint:
        return None
    result = ProbeResult.from_json(stored.get(fingerprint))
    return result if result is not None and result.current() else None


def known_fingerprint(settings, path: str | os.PathLike) -> str | None:
    """The fingerprint of the model last loaded from ``path``, if one was."""
    known = settings.get("model_fingerprints") or {}
    return known.get(_key(path)) if isinstance(known, dict) else None


def remember(state, path: str | os.PathLike, fingerprint: str) -> None:
    """Keep ``path``'s fingerprint (newest last, at most KEEP_PATHS), so that "auto" finds its probe next
    time before loading it."""
    known = dict(state.settings.get("model_fingerprints") or {})
    key = _key(path)
    if known.get(key) == fingerprint:
        return
    known.pop(key, None)
    known[key] = fingerprint
    state.set_preference("model_fingerprints", dict(list(known.items())[-KEEP_PATHS:]))


def for_model(settings, fingerprint: str | None) -> tuple[ProbeResult | None, bool]:
    """The probe a model's star is costed with, and whether it was borrowed: the model's own once it
    was measured, else this CPU's newest of another model (:func:`latest`), else none."""
    own = measured(settings, fingerprint)
    if own is not None:
        return own, False
    newest = latest(settings)
    return newest, newest is not None


def auto_precision(settings, device: hardware.Device, info: FileInfo) -> str:
    """The precision "auto" loads ``info``'s model in on ``device``: the star's pick for it there
    (:func:`engine.host.hardware.recommend` with :func:`for_model`'s probe, on the CPU)."""
    found = for_model(settings, known_fingerprint(settings, info.path))[0] if device.kind == "cpu" else None
    return hardware.recommend(info.size, info.n_params, [device], found).precision


def _key(path: str | os.PathLike) -> str:
    return str(Path(path).resolve())


def latest(settings) -> ProbeResult | None:
    """The newest current stored probe (what this CPU did last): the catalog costs models with it."""
    stored = settings.get("precision_probes") or {}
    if not isinstance(stored, dict):
        return None
    for data in reversed(list(stored.values())):
        result = ProbeResult.from_json(data)
        if result is not None and result.current():
            return result
    return None


class PrecisionProbe(QObject):
    def __init__(self, state):
        super().__init__()
        self.state = state
        self.running: asyncio.Future | None = None
        state.modelChanged.connect(self._model_changed)

    def _model_changed(self) -> None:
        model = self.state.model
        if (model is None or model.is_remote or not self.state.settings.get("measure_precisions", True)
                or measured(self.state.settings, model.fingerprint) is not None or self.running is not None):
            return
        self.running = asyncio.ensure_future(self.run(model.path, model.fingerprint))

    async def run(self, path: str, fingerprint: str) -> ProbeResult | None:
        """Wait until no reply is written, measure, store; the window's star and tooltips follow."""
        try:
            while self.state.busy:
                await asyncio.sleep(0.5)
            self.state.status.emit(self.tr("Measuring which precision runs fastest on this computer…"), 0)
            try:
                result = await in_thread(lambda: probe.probe(path))
            except (EngineError, OSError, RuntimeError) as e:
                self.state.status.emit(self.tr("Could not measure the precisions: {error}").format(error=error_text(e)),
                                       8000)
                return None
            stored = dict(self.state.settings.get("precision_probes") or {})
            stored.pop(fingerprint, None)
            stored[fingerprint] = result.to_json()
            self.state.set_preference("precision_probes", dict(list(stored.items())[-KEEP:]))
            speeds = ", ".join(f"{p} {result.ratio(p):.1f}x" for p in result.speed if p != "fp32")
            self.state.status.emit(self.tr("Measured decode speed against fp32 here: {speeds}").format(speeds=speeds),
                                   8000)
            return result
        finally:
            self.running = None
            if self.state.model is not None and self.state.model.fingerprint != fingerprint:
                self._model_changed()        # another model loaded meanwhile: its turn
