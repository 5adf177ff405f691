"""Fixtures for engine tests that talk: a tiny random RWKV-7 with the World vocabulary."""

from __future__ import annotations

import pytest
import torch

import engine
from engine.text.sampling import SamplerSettings
from kernels import cpu

GREEDY = SamplerSettings(temperature=0.0, top_p=0.0, presence_penalty=0.0, frequency_penalty=0.0)


@pytest.fixture(scope="session")
def world_model(world_ckpt):
    return engine.load(world_ckpt)


@pytest.fixture(scope="session")
def world_tok():
    return engine.load_tokenizer("world")


@pytest.fixture(params=(*cpu.ISAS, "avx2+avxvnni"))
def isa(request):
    """Each instruction set of the compiled library this CPU runs, selected for the test (the
    others skip), the one before restored after. ``avx2`` is AVX2 without AVX-VNNI, ``avx2+avxvnni``
    with it (its prompt GEMMs; skipped on a CPU without it): the name ``cpu.kernels_name()`` gives."""
    name, vnni = request.param.split("+")[0], request.param.endswith("+avxvnni")
    if name not in cpu.supported_isas():
        pytest.skip(f"this CPU cannot run {name}")
    before, before_vnni = cpu.isa(), cpu.avx_vnni()
    if cpu.set_avx_vnni(vnni) != vnni:
        cpu.set_avx_vnni(before_vnni)
        pytest.skip("this CPU has no AVX-VNNI")
    assert cpu.set_isa(name) == name and cpu.kernels_name() == request.param
    yield request.param
    cpu.set_isa(before)
    cpu.set_avx_vnni(before_vnni)


@pytest.fixture(params=[1, 2], ids=lambda n: f"{n}threads")
def threads(request):
    """One and two threads for the compiled kernels (torch's count governs both), restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(request.param)
    yield request.param
    torch.set_num_threads(before)
