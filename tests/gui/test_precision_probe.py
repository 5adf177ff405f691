"""The precision probe in the window: after a model loads it is measured once, off the Qt thread; the
picker's star and tooltip, and the catalog's pick, follow the measurement, which is remembered."""

from __future__ import annotations

from engine.host import hardware, probe
from engine.host.probe import ProbeResult
from tests.gui.util import run, until


def _star(win) -> tuple[str, str]:
    return next(win.hardware.itemData(i) for i in range(win.hardware.count()) if "★" in win.hardware.itemText(i))


def test_the_loaded_model_is_measured_once_and_the_star_follows_with_the_reason(loop, make_window, world_ckpt,
                                                                                 tmp_path):
    from app.settings import Settings

    folder = tmp_path / "data"
    Settings(folder / "settings.json").set("measure_precisions", True)
    win = make_window(folder)
    run(loop, win.load_model(str(world_ckpt)))
    fingerprint = win.state.model.fingerprint
    run(loop, until(lambda: fingerprint in (win.settings.get("precision_probes") or {}), timeout=120))
    result = ProbeResult.from_json(win.settings.get("precision_probes")[fingerprint])
    assert set(result.speed) >= {"fp32", "int8"} and result.agreement
    m = win.state.model
    expected = hardware.recommend(m.file_bytes, m.n_params, win.devices, result)
    assert _star(win) == (expected.device, expected.precision)
    assert win.hardware.toolTip() == expected.reason
    assert any(why in expected.reason for why in ("x fp32 decode here", "fastest measured", "changed the greedy token"))
    assert "Measured decode speed" in win.statusBar().currentMessage()

    win.close()
    again = make_window(folder)                        # remembered: not measured again
    run(loop, again.load_model(str(world_ckpt)))
    assert again.models.precision_probe.running is None
    assert _star(again) == (expected.device, expected.precision)


def test_a_stored_measurement_moves_the_star_and_the_catalogs_cpu_pick(loop, make_window, world_ckpt):
    from tests.unit.test_hub_recommend import CATALOG

    win = make_window()
    run(loop, win.load_model(str(world_ckpt)))
    win.devices = [hardware.Device("cpu", "cpu", "Desktop CPU", 24 * 2**30, None, 8, (), ("fp32", "bf16", "int8"))]
    win.models.devices = [hardware.Device("cpu", "cpu", "Desktop CPU", 24 * 2**30, None, 8, (),
                                          ("fp32", "bf16", "int8"))]
    win.models.set_catalog(CATALOG)
    assert "0.4b" in win.models.catalog_view.currentItem().text(0)
    measured = ProbeResult({"fp32": 27.0, "bf16": 80.0, "int8": 129.6}, {"bf16": 0.99, "int8": 0.97}, 2, 48,
                           probe.setup_key())
    win.state.set_preference("precision_probes", {win.state.model.fingerprint: measured.to_json()})
    assert _star(win) == ("cpu", "int8")
    assert win.hardware.toolTip().startswith("int8: 4.8x fp32 decode here, quality: greedy agreement 97%")
    assert "1.5b" in win.models.catalog_view.currentItem().text(0)


def test_a_measurement_from_other_kernels_or_threads_is_measured_again(loop, make_window, world_ckpt, tmp_path):
    """After an update (another build of the kernels: other speeds) the stored figures are stale:
    neither the star nor the catalog follows them, and the model is measured again."""
    from app import precision_probe
    from app.settings import Settings
    from engine.models.checkpoint import read_checkpoint

    folder = tmp_path / "data"
    fingerprint = read_checkpoint(world_ckpt).fingerprint
    stale = ProbeResult({"fp32": 27.0, "bf16": 80.0, "int8": 10.0}, {"bf16": 0.99, "int8": 0.97}, 2, 48,
                        "0123456789ab avx2 2 threads")
    settings = Settings(folder / "settings.json")
    settings.set("measure_precisions", True)
    settings.set("precision_probes", {fingerprint: stale.to_json()})
    assert precision_probe.measured(settings, fingerprint) is None and precision_probe.latest(settings) is None
    win = make_window(folder)
    run(loop, win.load_model(str(world_ckpt)))
    assert win.state.model.fingerprint == fingerprint
    run(loop, until(lambda: ProbeResult.from_json(win.settings.get("precision_probes")[fingerprint]).current(),
                    timeout=120))
    fresh = precision_probe.measured(win.settings, fingerprint)
    assert fresh is not None and fresh.setup == probe.setup_key() and fresh.speed != stale.speed
    assert precision_probe.latest(win.settings) == fresh


def test_auto_loads_what_the_star_says_from_another_models_probe_then_its_own(loop, make_window, world_ckpt,
                                                                               tmp_path):
    """The precision setting "auto" (never chosen) loads the star's pick. Before the model was ever
    measured, the star and "auto" both cost it with this CPU's newest probe of another model, and the
    tooltip says so; once its own measurement is stored (the window remembers which fingerprint this
    path has), that one. A precision the user chose stays."""
    from app.settings import Settings
    from engine.models.checkpoint import read_checkpoint

    folder = tmp_path / "data"
    fingerprint = read_checkpoint(world_ckpt).fingerprint
    other = ProbeResult({"fp32": 27.0, "bf16": 80.0, "int8": 129.6}, {"bf16": 0.99, "int8": 0.97}, 2, 48,
                        probe.setup_key())
    Settings(folder / "settings.json").set("precision_probes", {"another model": other.to_json()})
    cpu = hardware.Device("cpu", "cpu", "Desktop CPU", 24 * 2**30, None, 8, (), ("fp32", "bf16", "int8"))
    win = make_window(folder)
    win.devices = win.state.devices = [cpu]
    run(loop, win.load_model(str(world_ckpt)))
    assert win.state.model.precision == "int8" and _star(win) == ("cpu", "int8")
    assert win.hardware.toolTip().endswith("(measured on another model here, until this one is measured)")
    assert win.settings.get("precision") == "auto"
    own = ProbeResult({"fp32": 27.0, "bf16": 90.0, "int8": 60.0}, {"bf16": 0.99, "int8": 0.97}, 2, 48,
                      probe.setup_key())
    win.state.set_preference("precision_probes", {"another model": other.to_json(), fingerprint: own.to_json()})
    win.close()

    again = make_window(folder)
    again.devices = again.state.devices = [cpu]
    run(loop, again.load_model(str(world_ckpt)))
    assert again.state.model.precision == "bf16" and _star(again) == ("cpu", "bf16")
    assert "another model" not in again.hardware.toolTip()
    assert again.settings.get("precision") == "auto"
    run(loop, again.load_model(str(world_ckpt), "cpu", "int8"))
    assert again.state.model.precision == "int8" and again.settings.get("precision") == "int8"


def test_auto_loads_a_model_too_big_for_fp32_in_a_precision_that_fits(loop, make_window, world_ckpt):
    """Unmeasured, "auto" never loads a model in a precision the picker marks as not fitting."""
    from engine.host.library import inspect_file

    n = inspect_file(world_ckpt).n_params
    room = hardware.needed_bytes(n * hardware.BYTES_PER_PARAM["int8"])     # int8 fits, bf16 and fp32 do not
    small = hardware.Device("cpu", "cpu", "Small CPU", room, None, 2, (), ("fp32", "bf16", "int8", "q5", "q4"))
    win = make_window()
    win.devices = win.state.devices = [small]
    run(loop, win.load_model(str(world_ckpt)))
    assert win.state.model.precision == "int8"
    win.models.show_library()
