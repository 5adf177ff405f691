"""RWKV Desktop's engine: load RWKV models, run them like the reference, chat, save and resume state.

The public surface is small on purpose::

    model = engine.load("model.pth", device="cpu", precision="fp32")
    logits, state = model.forward(tokens, state)
    tok = engine.load_tokenizer("world")
    for piece in engine.generate(model, tok, "Hello", max_tokens=50): ...
    chat = engine.ChatSession(model, tok)

No Qt here: the app, the CLI and the tests all use the same calls. Names are imported lazily so
that ``import engine`` stays cheap (torch is only imported when a model is touched).
"""

from __future__ import annotations

import os
from importlib import import_module

# Torch's OpenMP workers (its GEMMs, its ops over big tensors) spin for a while after each parallel
# region by default. Ours alternate with the compiled kernels' own thread pool, and on a 2-core
# machine a spinning worker takes the core the other pool needs: with anything else running, a
# 512-token fp32 prompt ran 4x slower (load 10: 71-83 tok/s, 315-335 passive). Passive workers
# sleep at once. libgomp reads this when torch loads it, so it is set before torch is imported; a
# value the user set wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
from typing import Any

_EXPORTS = {
    "load": ".models.model",
    "Model": ".models.model",
    "ModelInfo": ".models.model",
    "State": ".models.state",
    "load_tokenizer": ".text.tokenizer",
    "Tokenizer": ".text.tokenizer",
    "SamplerSettings": ".text.sampling",
    "Sampler": ".text.sampling",
    "PRESETS": ".text.sampling",
    "generate": ".text.generation",
    "Generation": ".text.generation",
    "ChatSession": ".text.chat",
    "THINK_MODES": ".text.chat",
    "TEMPLATES": ".text.chat",
}

__all__ = sorted(_EXPORTS) + ["errors"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name], __name__), name)
        globals()[name] = value
        return value
    if name == "errors":
        return import_module(".errors", __name__)
    raise AttributeError(f"module 'engine' has no attribute {name!r}")
