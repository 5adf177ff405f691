"""Fixtures for engine tests that talk: a tiny random RWKV-7 with the World vocabulary."""

from __future__ import annotations

import pytest

import engine
from engine.text.sampling import SamplerSettings

GREEDY = SamplerSettings(temperature=0.0, top_p=0.0, presence_penalty=0.0, frequency_penalty=0.0)


@pytest.fixture(scope="session")
def world_model(world_ckpt):
    return engine.load(world_ckpt)


@pytest.fixture(scope="session")
def world_tok():
    return engine.load_tokenizer("world")
