"""The bundled demo model: it loads by name, beats a unigram model on held-out chats, and talks."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import engine
from engine.text.chat import ChatSession
from engine.text.sampling import SamplerSettings
from engine.text.tokenizer import tokenizer_for
from engine.tools.train import TrainableRWKV7

HELDOUT = Path(__file__).parent.parent / "data" / "demo_heldout.jsonl"
# The unigram baseline on this data is ~5.9 nats/token (perplexity ~368, resources/models/demo);
# the shipped model measured 1.82 (perplexity 6.2) on this sample; the bound leaves room for other CPUs.
MAX_HELDOUT_LOSS = 2.0
GREEDY = SamplerSettings(temperature=0.0, presence_penalty=0.0, frequency_penalty=0.0)


@pytest.fixture(scope="module")
def demo():
    model = engine.load("demo")
    return model, tokenizer_for(model)


def test_demo_resolves_by_name_with_its_own_tokenizer(demo):
    model, tok = demo
    assert model.info.generation == 7 and model.info.vocab_size == tok.vocab_size == 4096
    assert tok.encode("\n\n") == [260] and tok.eos_id == 0
    assert sum(p.stat().st_size for p in model.info.path.parent.iterdir()) < 40 * 2**20


def test_heldout_loss_is_far_below_the_unigram_baseline(demo):
    model, tok = demo
    from safetensors.torch import load_file

    net = TrainableRWKV7(load_file(str(model.info.path)))
    docs = [json.loads(line)["text"] + "\n\n" for line in HELDOUT.read_text().splitlines()]
    total, count = 0.0, 0
    with torch.no_grad():
        for doc in docs:
            ids = torch.tensor([tok.encode(doc)])
            logits = net(ids[:, :-1])
            total += F.cross_entropy(logits[0], ids[0, 1:], reduction="sum").item()
            count += ids.shape[1] - 1
    loss = total / count
    assert loss < MAX_HELDOUT_LOSS, f"held-out loss {loss:.3f} (perplexity {math.exp(loss):.1f})"


def test_greedy_replies_are_deterministic_valid_text_that_ends_at_the_separator(demo):
    model, tok = demo
    replies = []
    for _ in range(2):
        chat = ChatSession(model, tok, settings=GREEDY, max_tokens=80)
        replies.append("".join(chat.send('What does "harbor" mean?')))
        reply = chat.messages[chat.leaf()]
        assert reply.stop_reason == "stop", reply.text
    assert replies[0] == replies[1]
    assert replies[0].strip() and "\ufffd" not in replies[0]
    assert "harbor" in replies[0].lower()
