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


@pytest.fixture(params=cpu.ISAS)
def isa(request):
    """Each instruction set of the compiled library this CPU runs, selected for the test (the
    others skip), the one before restored after."""
    if request.param not in cpu.supported_isas():
        pytest.skip(f"this CPU cannot run {request.param}")
    before = cpu.isa()
    assert cpu.set_isa(request.param) == request.param
    yield request.param
    cpu.set_isa(before)


@pytest.fixture(params=[1, 2], ids=lambda n: f"{n}threads")
def threads(request):
    """One and two threads for the compiled kernels (torch's count governs both), restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(request.param)
    yield request.param
    torch.set_num_threads(before)
