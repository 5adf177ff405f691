"""The trainer runs the engine's own layers: same logits, falling loss, official files out."""

from __future__ import annotations

import json
import math

import torch

import engine
from engine.tools.train import TrainableRWKV7, TrainConfig, init_rwkv7, lr_at, save_model, train
from tests.fixtures.checkpoints import make_rwkv7_state_dict


def test_training_forward_equals_the_engine_at_every_position(tmp_path):
    sd = make_rwkv7_state_dict(n_layer=3, n_embd=64, head_size=32, vocab_size=300, seed=4)
    trainable = TrainableRWKV7(sd)
    idx = torch.randint(0, 300, (2, 45), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        logits = trainable(idx)
    save_model(trainable, tmp_path, {"name": "t"})
    model = engine.load(tmp_path / "model.safetensors")
    for b in range(2):
        state = model.new_state()
        for start, end in ((0, 1), (1, 2), (2, 31), (31, 45)):   # RNN steps and chunks, chained
            out, _ = model.forward(idx[b, start:end].tolist(), state)
            assert (out - logits[b, end - 1]).abs().max() <= 1e-4, (b, end)


def test_fresh_weights_have_the_official_layout_and_run():
    z = init_rwkv7(2, 64, 32, 100)
    assert z["blocks.0.att.r_k"].shape == (2, 32) and z["head.weight"].shape == (100, 64)
    assert z["blocks.1.att.w0"].shape == (1, 1, 64)
    logits = TrainableRWKV7(z)(torch.tensor([[1, 2, 3]]))
    assert logits.shape == (1, 3, 100) and torch.isfinite(logits).all()


def test_lr_warms_up_then_decays_to_the_final_rate():
    cfg = TrainConfig(steps=100, warmup=10, lr=1e-3, lr_final=1e-4)
    assert lr_at(0, cfg) < lr_at(9, cfg) == 1e-3
    assert math.isclose(lr_at(100, cfg), 1e-4)
    assert all(lr_at(s, cfg) >= lr_at(s + 1, cfg) for s in range(10, 100))


def test_a_short_run_learns_a_pattern_and_writes_a_loadable_model(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers

    data = tmp_path / "data"
    data.mkdir()
    lines = [json.dumps({"text": f"User: count {i}\n\nAssistant: {' '.join('abcdefgh'[: 3 + i % 5])}"})
             for i in range(200)]
    (data / "train.jsonl").write_text("\n".join(lines[:180]))
    (data / "valid.jsonl").write_text("\n".join(lines[180:]))
    vocab = {"<|endoftext|>": 0, **{c: i + 1 for i, c in enumerate(sorted(set("".join(lines) + "\n")))}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<|endoftext|>"))
    tok.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    tok.save(str(data / "tokenizer.json"))

    cfg = TrainConfig(n_layer=2, n_embd=64, head_size=32, ctx=32, batch=8, steps=60, lr=1e-2, warmup=5,
                      eval_every=30, eval_batches=2)
    meta = train(data, tmp_path / "out", data / "tokenizer.json", cfg)
    first, last = meta["log"][0]["valid_loss"], meta["log"][-1]["valid_loss"]
    assert last < 0.6 * math.log(len(vocab)) and last <= first
    model = engine.load(tmp_path / "out" / "model.safetensors")
    assert model.info.n_layer == 2 and model.info.vocab_size == len(vocab)
    assert (tmp_path / "out" / "tokenizer.json").is_file()
