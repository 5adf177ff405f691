"""The CUDA-graph decode step's plumbing (engine/models/cuda_graphs.py), run eagerly on the CPU.

A graph replays fixed buffers, so what can go wrong without a GPU is the copying around it: the
token and each caller's state copied in, the state copied back, the logits handed out as a copy
that the next step does not overwrite. ``StaticStep(capture=False)`` runs the very same buffers
through the eager step; the capture itself needs a GPU (``make`` checks it against the eager step
there before using it, and on this machine must fall back with a warning).
"""

from __future__ import annotations

import logging

import pytest
import torch

import engine
from engine.models import cuda_graphs


@pytest.fixture
def torch_model(rwkv7_checkpoint):
    model = engine.load(rwkv7_checkpoint(n_layer=2, n_embd=128, head_size=32), device="cpu", precision="fp32",
                        backend="reference")               # the torch layers, as on a GPU
    assert model.weights.decoder is None
    return model


def _run(model, prompt, steps, stepper=None):
    out, state = model.forward(prompt, None)
    outs = [out.clone()]
    for t in steps:
        out = stepper.step(t, state) if stepper else model.forward([t], state)[0]
        outs.append(out.clone())
    return torch.stack(outs), state


def test_static_buffers_decode_like_the_model_and_keep_states_apart(torch_model):
    static = cuda_graphs.StaticStep(torch_model._torch_step, torch_model.new_state(), capture=False)
    ref_a, sa_ref = _run(torch_model, [1, 2, 3], [4, 5, 6, 7])
    ref_b, sb_ref = _run(torch_model, [9, 8], [7, 6, 5, 4])
    # two conversations decoded alternately through the one set of static buffers
    _, sa = torch_model.forward([1, 2, 3], None)
    _, sb = torch_model.forward([9, 8], None)
    outs_a, outs_b = [sa.last_logits.clone()], [sb.last_logits.clone()]
    for ta, tb in zip([4, 5, 6, 7], [7, 6, 5, 4], strict=True):
        la = static.step(ta, sa)
        lb = static.step(tb, sb)
        outs_a.append(la)
        outs_b.append(lb)
    assert torch.allclose(torch.stack(outs_a), ref_a, atol=1e-6)
    assert torch.allclose(torch.stack(outs_b), ref_b, atol=1e-6)
    for k in sa.parts:
        assert torch.equal(sa.parts[k], sa_ref.parts[k]) and torch.equal(sb.parts[k], sb_ref.parts[k]), k
    assert outs_a[-1].data_ptr() != static.logits.data_ptr()   # a copy: the next step cannot overwrite it


def test_the_check_passes_a_faithful_replay_and_catches_a_stale_one(torch_model):
    proto = torch_model.new_state()
    good = cuda_graphs.StaticStep(torch_model._torch_step, proto, capture=False)
    assert good.check(proto, [0, 1, 2]) == ""

    class StaleReplay(cuda_graphs.StaticStep):
        """Replays on buffers fixed at capture time, not the ones step() fills: a bad capture."""

        def _eager(self):
            if not hasattr(self, "frozen"):
                self.frozen = {k: v.clone() for k, v in self.parts.items()}
            self.logits = self._step(self.token, self.frozen)

    bad = StaleReplay(torch_model._torch_step, proto, capture=False)
    problem = bad.check(proto, [0, 1, 2])
    assert problem.startswith("graph replay differs"), problem


def test_no_graph_on_the_cpu_or_when_switched_off(torch_model, monkeypatch):
    assert not cuda_graphs.wanted(torch.device("cpu"))
    assert cuda_graphs.make(torch_model._torch_step, torch_model.new_state(), torch.device("cpu")) is None
    monkeypatch.setenv("RWKV_CUDA_GRAPHS", "0")
    assert not cuda_graphs.wanted(torch.device("cuda"))


def test_a_capture_that_fails_falls_back_to_eager_with_a_warning(torch_model, monkeypatch, caplog):
    monkeypatch.setattr(cuda_graphs, "wanted", lambda device: True)
    with caplog.at_level(logging.WARNING, logger="engine.models.cuda_graphs"):
        got = cuda_graphs.make(torch_model._torch_step, torch_model.new_state(), torch.device("cpu"))
    assert got is None and "CUDA graphs not used" in caplog.text     # this torch has no CUDA streams
