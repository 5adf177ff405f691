"""The sampler against BlinkDL's ``rwkv.utils.PIPELINE`` (the oracle) and against hand-worked numbers.

The oracle's ``sample_logits`` ends in ``np.random.choice(a=V, p=probs)``; patching that call hands us the
exact distribution it draws from, so the comparisons below are exact rather than statistical.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import torch

from engine.text.sampling import PRESETS, Sampler, SamplerSettings, penalty_exempt_ids

REPO_ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def pipeline():
    """An oracle PIPELINE without a model or tokenizer: ``sample_logits`` needs neither."""
    from rwkv.utils import PIPELINE

    return object.__new__(PIPELINE)


def oracle_distribution(pipeline, logits: torch.Tensor, **kwargs) -> np.ndarray:
    """The probabilities the oracle's CPU path passes to ``np.random.choice``."""
    captured: dict[str, np.ndarray] = {}

    def choice(a, p):
        captured["p"] = np.asarray(p, dtype=np.float64)
        return 0

    with mock.patch.object(np.random, "choice", choice):
        pipeline.sample_logits(logits.clone(), **kwargs)
    return captured["p"]


def random_logits(vocab: int, scale: float, seed: int) -> torch.Tensor:
    return torch.randn(vocab, generator=torch.Generator().manual_seed(seed)) * scale


def sampler(vocab: int, **settings) -> Sampler:
    return Sampler(SamplerSettings(**settings), vocab)


def oracle_rounding_decides(logits: torch.Tensor, top_p: float) -> bool:
    """True when the oracle's float32 running sum crosses top_p at another token than the exact sum.

    The oracle accumulates ``np.cumsum`` in float32, left to right; we accumulate in float64. Those
    cases are the oracle's rounding error, not a rule to copy, so the comparisons skip them.
    """
    probs = torch.softmax(logits.float(), -1).sort(descending=True).values
    oracle_index = int(np.argmax(np.cumsum(probs.numpy()) >= top_p))
    return oracle_index != int(torch.searchsorted(probs.double().cumsum(0), top_p))


def log_prob_gaps(probs: torch.Tensor, ids: list[int], reference: int) -> torch.Tensor:
    """log p[i] - log p[reference]: equals the logit difference when top_p=1 and T=1."""
    return probs[ids].log() - probs[reference].log()


class FakeTokenizer:
    """Just what ``penalty_exempt_ids`` needs, with a call counter to see the cache work."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces
        self.vocab_size = len(pieces)
        self.calls = 0

    def token_bytes(self, token_id: int) -> bytes:
        self.calls += 1
        return self.pieces[token_id]


# ---------------------------------------------------------------- greedy


@pytest.mark.parametrize("settings", [{"temperature": 0.0}, {"top_p": 0.0, "temperature": 1.3}])
def test_greedy_returns_argmax(settings):
    for seed in range(20):
        logits = random_logits(1000, 3.0, seed)
        s = sampler(1000, **settings)
        assert s.sample(logits) == int(torch.argmax(logits))
        probs = s.probabilities(logits)
        assert probs[int(torch.argmax(logits))] == 1.0 and probs.sum() == 1.0


def test_greedy_ties_go_to_the_lowest_id():
    logits = torch.tensor([1.0, 3.0, 0.5, 3.0, 3.0])
    picks = {Sampler(SamplerSettings(temperature=0.0, seed=seed), 5).sample(logits) for seed in range(10)}
    picks |= {sampler(5, temperature=0.0).sample(logits) for _ in range(10)}
    assert picks == {1}


def test_greedy_still_applies_bans_and_penalties():
    logits = torch.tensor([5.0, 4.0, 3.0, 0.0])
    s = sampler(4, temperature=0.0, banned_tokens=(0,), presence_penalty=0.0, frequency_penalty=2.0)
    assert s.sample(logits) == 1
    s.accept(1)
    assert s.sample(logits) == 2


# ---------------------------------------------------------------- top-p, top-k, temperature vs the oracle


@pytest.mark.parametrize("top_p", [0.05, 0.3, 0.5, 0.85, 0.99])
def test_top_p_support_and_probabilities_match_oracle(pipeline, top_p):
    checked = 0
    for vocab in (50, 500, 4000):
        for scale in (0.5, 2.0, 6.0):
            for seed in range(8):
                logits = random_logits(vocab, scale, seed)
                if oracle_rounding_decides(logits, top_p):
                    continue
                expected = oracle_distribution(pipeline, logits, temperature=1.0, top_p=top_p)
                ours = sampler(vocab, top_p=top_p).probabilities(logits).numpy()
                assert set(np.flatnonzero(ours)) == set(np.flatnonzero(expected)), (vocab, scale, seed)
                np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-7)
                checked += 1
    assert checked >= 66  # of 72: the rounding guard must not skip the test away


@pytest.mark.parametrize("temperature", [0.4, 1.0, 1.7])
@pytest.mark.parametrize("top_k", [0, 1, 3, 40])
@pytest.mark.parametrize("top_p", [0.5, 0.95])
def test_top_p_top_k_temperature_match_oracle(pipeline, temperature, top_k, top_p):
    for seed in range(5):
        logits = random_logits(300, 2.0, 100 + seed)
        if oracle_rounding_decides(logits, top_p):
            continue
        expected = oracle_distribution(pipeline, logits, temperature=temperature, top_p=top_p, top_k=top_k)
        ours = sampler(300, temperature=temperature, top_p=top_p, top_k=top_k).probabilities(logits).numpy()
        np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-7)


def test_top_p_keeps_every_token_tied_at_the_cutoff(pipeline):
    # softmax([2, 1, 1, 1, 0]): the first 1 crosses top_p=0.5, and its two equals stay as well.
    logits = torch.tensor([2.0, 1.0, 1.0, 1.0, 0.0])
    ours = sampler(5, top_p=0.5).probabilities(logits)
    assert (ours > 0).tolist() == [True, True, True, True, False]
    expected = oracle_distribution(pipeline, logits, temperature=1.0, top_p=0.5)
    np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-5)


def test_top_p_cutoff_deep_in_a_large_flat_vocabulary():
    # The cutoff lies beyond the first top-k guesses, so the widening search must reach it.
    logits = random_logits(65536, 0.3, 7)
    probs = torch.softmax(logits, -1)
    descending = probs.sort(descending=True).values
    cutoff = descending[int(torch.searchsorted(descending.double().cumsum(0), 0.9))]
    ours = sampler(65536, top_p=0.9).probabilities(logits)
    assert torch.equal(ours > 0, probs >= cutoff)
    assert int((ours > 0).sum()) > 10_000


def test_temperature_raises_probabilities_to_one_over_t():
    logits = random_logits(200, 2.0, 3)
    p = torch.softmax(logits, -1).double()
    for temperature in (0.25, 0.7, 2.5):
        expected = p ** (1 / temperature)
        expected /= expected.sum()
        ours = sampler(200, temperature=temperature, top_p=1.0).probabilities(logits)
        torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-9)


def test_small_temperature_does_not_underflow_to_nan():
    # Flat: every p is about 1.5e-5, and p ** 200 is below the smallest float64.
    logits = random_logits(65536, 0.1, 5)
    probs = sampler(65536, temperature=0.005, top_p=1.0).probabilities(logits)
    assert torch.isfinite(probs).all()
    torch.testing.assert_close(probs.sum(), torch.tensor(1.0, dtype=torch.float64))
    assert int(torch.argmax(probs)) == int(torch.argmax(logits))


def test_top_k_keeps_the_k_most_likely():
    logits = random_logits(1000, 2.0, 11)
    for k in (1, 5, 64):
        probs = sampler(1000, top_p=1.0, top_k=k).probabilities(logits)
        assert set(torch.nonzero(probs).squeeze(1).tolist()) == set(torch.topk(logits, k).indices.tolist())
        torch.testing.assert_close(probs.sum(), torch.tensor(1.0, dtype=torch.float64))


def test_top_k_ties_at_the_boundary_go_to_the_lowest_ids():
    logits = torch.tensor([0.0, 2.0, 1.0, 2.0, 1.0, 1.0, 1.0])
    probs = sampler(7, top_p=1.0, top_k=3).probabilities(logits)
    assert torch.nonzero(probs).squeeze(1).tolist() == [1, 2, 3]


def test_top_p_one_keeps_everything_where_the_oracle_collapses_to_greedy(pipeline):
    # A peaked, model-like distribution: the oracle's float32 running sum ends near 0.99989, below 1.0.
    logits = random_logits(65536, 3.0, 0)
    oracle = oracle_distribution(pipeline, logits, temperature=1.0, top_p=1.0)
    assert np.count_nonzero(oracle) == 1
    ours = sampler(65536, top_p=1.0).probabilities(logits)
    assert int((ours > 0).sum()) == 65536
    torch.testing.assert_close(ours, torch.softmax(logits.double(), -1), rtol=1e-5, atol=1e-9)


def test_top_p_one_draws_more_than_one_token():
    s = Sampler(SamplerSettings(top_p=1.0, frequency_penalty=0.0, seed=3), 10)
    logits = torch.linspace(0.0, 1.0, 10)
    assert len({s.sample(logits) for _ in range(300)}) >= 5


# ---------------------------------------------------------------- penalties


def test_penalties_by_hand():
    presence, frequency, decay = 0.3, 0.7, 0.9
    s = Sampler(
        SamplerSettings(
            top_p=1.0, presence_penalty=presence, frequency_penalty=frequency, penalty_decay=decay
        ),
        10,
        exempt_ids=frozenset({7}),
    )
    logits = random_logits(10, 1.0, 0)
    for token in (3, 5, 3, 7):
        s.accept(token)
    # occurrence after 3, 5, 3, 7 (each step: decay everything, then add 1, or 0 for the exempt 7)
    occurrence = {3: (decay**2 + 1) * decay, 5: decay**2, 7: 0.0}
    expected = logits.double().clone()
    for token, count in occurrence.items():
        expected[token] -= presence + count * frequency
    probs = s.probabilities(logits)
    others = [0, 3, 5, 7, 9]
    torch.testing.assert_close(
        log_prob_gaps(probs, others, 1), expected[others] - expected[1], rtol=0, atol=1e-5
    )


def test_exempt_token_still_gets_the_presence_penalty():
    # The oracle stores exempt tokens with weight 0, but in ``occurrence``, so presence still applies.
    s = Sampler(
        SamplerSettings(top_p=1.0, presence_penalty=0.5, frequency_penalty=2.0), 4, exempt_ids=frozenset({2})
    )
    logits = torch.zeros(4)
    for _ in range(3):
        s.accept(2)
    gap = log_prob_gaps(s.probabilities(logits), [2], 0)
    torch.testing.assert_close(gap, torch.tensor([-0.5], dtype=torch.float64), rtol=0, atol=1e-6)


def test_presence_penalty_outlives_decay():
    s = sampler(3, top_p=1.0, presence_penalty=1.0, frequency_penalty=1.0, penalty_decay=0.5)
    s.accept(0)
    for _ in range(60):
        s.accept(2)
    gap = log_prob_gaps(s.probabilities(torch.zeros(3)), [0], 1)
    torch.testing.assert_close(gap, torch.tensor([-1.0], dtype=torch.float64), rtol=0, atol=1e-6)


def test_penalties_match_oracle_generate():
    from rwkv.utils import PIPELINE, PIPELINE_ARGS

    texts = ["0", "1", "2", " ", "\t", "12", "a", "b", "cd", "e", "!", "\n"]
    vocab = len(texts)
    script = [6, 6, 3, 1, 7, 6, 5, 3, 8, 9, 6, 1, 1, 7, 4, 11, 6, 2, 3, 8]
    steps = [random_logits(vocab, 2.0, 50 + i) for i in range(len(script))]

    class Words:
        def encode(self, text):
            return [6]

        def decode(self, ids):
            return "".join(texts[i] for i in ids)

    class Model:
        calls = 0

        def forward(self, tokens, state):
            out = steps[Model.calls].clone()  # a copy: the oracle edits logits in place
            Model.calls += 1
            return out, state

    seen: list[torch.Tensor] = []

    def record(logits, **kwargs):
        seen.append(logits.clone())
        return script[len(seen) - 1]

    oracle = object.__new__(PIPELINE)
    oracle.model, oracle.tokenizer, oracle.sample_logits = Model(), Words(), record
    args = PIPELINE_ARGS(
        alpha_presence=0.4, alpha_frequency=0.6, alpha_decay=0.95, token_ban=[10], token_stop=[]
    )
    oracle.generate("x", token_count=len(script), args=args)
    assert len(seen) == len(script)

    tokenizer = FakeTokenizer([t.encode() for t in texts])
    s = Sampler(
        SamplerSettings(
            top_p=1.0, presence_penalty=0.4, frequency_penalty=0.6, penalty_decay=0.95, banned_tokens=(10,)
        ),
        vocab,
        exempt_ids=penalty_exempt_ids(tokenizer),
    )
    for logits, oracle_logits, token in zip(steps, seen, script, strict=True):
        expected = torch.softmax(oracle_logits.double(), -1)
        torch.testing.assert_close(s.probabilities(logits), expected, rtol=1e-5, atol=1e-8)
        s.accept(token)


def _dense_greedy(logits: torch.Tensor, settings: SamplerSettings, history: list[int], exempt=frozenset()) -> int:
    """Greedy by the rules written out over the whole vocabulary, in float64 (the reference)."""
    x = logits.double().clone()
    for token, bias in settings.logit_bias:
        x[token] += bias
    for token in settings.banned_tokens:
        x[token] = -math.inf
    occurrence: dict[int, float] = {}
    for token in history:
        occurrence = {t: c * settings.penalty_decay for t, c in occurrence.items()}
        occurrence[token] = occurrence.get(token, 0.0) + (0.0 if token in exempt else 1.0)
    for token, count in occurrence.items():
        x[token] -= settings.presence_penalty + settings.frequency_penalty * count
    return int(torch.argmax(x))


@pytest.mark.parametrize("seed", range(40))
def test_greedy_from_one_pass_equals_the_rules_over_the_whole_vocabulary(seed):
    # Few distinct logit values, so ties between changed and unchanged tokens happen often; the
    # history often includes the raw maximum, so the "maximum itself changed" branch runs too.
    g = torch.Generator().manual_seed(seed)
    vocab = 50
    settings = SamplerSettings(
        temperature=0.0, presence_penalty=[0.0, 0.5, -0.5][seed % 3], frequency_penalty=[0.0, 1.0, 0.25][seed % 3],
        penalty_decay=0.9, banned_tokens=(seed % vocab,) if seed % 4 == 0 else (),
        logit_bias=((3, 2.0), (3, -1.0), (7, -100.0)) if seed % 5 else (),
    )
    s = Sampler(settings, vocab, exempt_ids=frozenset({1, 2}))
    history: list[int] = []
    for _ in range(30):
        logits = torch.randint(0, 4, (vocab,), generator=g).float() / 2
        token = s.sample(logits)
        assert token == _dense_greedy(logits, settings, history, frozenset({1, 2}))
        s.accept(token)
        history.append(token)


def test_long_replies_keep_penalties_right_after_the_decay_is_folded_in():
    # 0.5 ** 700 underflows the stored scale: the sampler folds it into the occurrences on the way.
    s = sampler(3, top_p=1.0, presence_penalty=0.25, frequency_penalty=1.0, penalty_decay=0.5)
    for _ in range(700):
        s.accept(1)
    gap = log_prob_gaps(s.probabilities(torch.zeros(3)), [1], 0)   # occurrence -> 1 / (1 - 0.5) = 2
    torch.testing.assert_close(gap, torch.tensor([-2.25], dtype=torch.float64), rtol=0, atol=1e-6)


def test_greedy_refuses_nan_where_a_bias_applies():
    logits = torch.zeros(6)
    logits[4] = math.nan
    with pytest.raises(ValueError, match="NaN"):
        Sampler(SamplerSettings(temperature=0.0, logit_bias=((4, 1.0),)), 6).sample(logits)


def test_reset_forgets_occurrences():
    s = sampler(5, top_p=1.0, presence_penalty=1.0)
    logits = random_logits(5, 1.0, 2)
    before = s.probabilities(logits)
    s.accept(2)
    assert not torch.allclose(s.probabilities(logits), before)
    s.reset()
    torch.testing.assert_close(s.probabilities(logits), before)


# ---------------------------------------------------------------- randomness


def draw(settings: SamplerSettings, count: int = 40, vocab: int = 1000) -> list[int]:
    s = Sampler(settings, vocab)
    out = []
    for i in range(count):
        token = s.sample(random_logits(vocab, 0.5, i))
        s.accept(token)
        out.append(token)
    return out


def test_same_seed_gives_the_same_tokens():
    settings = SamplerSettings(top_p=0.9, seed=1234)
    assert draw(settings) == draw(settings)


def test_reset_replays_a_seeded_reply():
    s = Sampler(SamplerSettings(top_p=0.9, seed=99), 1000)
    logits = random_logits(1000, 0.5, 0)
    first = [s.sample(logits) for _ in range(20)]
    s.reset()
    assert [s.sample(logits) for _ in range(20)] == first


def test_different_seeds_give_different_tokens():
    assert draw(SamplerSettings(top_p=0.9, seed=1)) != draw(SamplerSettings(top_p=0.9, seed=2))


def test_no_seed_is_not_repeatable():
    assert draw(SamplerSettings(top_p=0.9)) != draw(SamplerSettings(top_p=0.9))


def test_same_seed_gives_the_same_tokens_in_another_process():
    code = (
        "from tests.unit.test_sampling import draw\n"
        "from engine.text.sampling import SamplerSettings\n"
        "print(draw(SamplerSettings(top_p=0.9, seed=1234)))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout) == draw(SamplerSettings(top_p=0.9, seed=1234))


def test_probabilities_do_not_advance_the_random_stream():
    settings = SamplerSettings(top_p=0.9, seed=5)
    logits = random_logits(1000, 0.5, 0)
    plain, peeking = Sampler(settings, 1000), Sampler(settings, 1000)
    a = [plain.sample(logits) for _ in range(10)]
    b = []
    for _ in range(10):
        peeking.probabilities(logits)
        b.append(peeking.sample(logits))
    assert a == b


def test_draws_follow_the_distribution():
    s = Sampler(SamplerSettings(top_p=1.0, frequency_penalty=0.0, seed=0), 3)
    logits = torch.log(torch.tensor([0.6, 0.3, 0.1]))
    counts = np.bincount([s.sample(logits) for _ in range(6000)], minlength=3) / 6000
    np.testing.assert_allclose(counts, [0.6, 0.3, 0.1], atol=0.03)


# ---------------------------------------------------------------- bans and inputs


def test_banned_tokens_are_never_drawn():
    logits = torch.tensor([5.0, 4.9, 0.0, 0.1, 0.2])
    s = Sampler(SamplerSettings(top_p=1.0, temperature=2.0, banned_tokens=(0, 1), seed=0), 5)
    assert s.probabilities(logits)[:2].tolist() == [0.0, 0.0]
    assert not {s.sample(logits) for _ in range(500)} & {0, 1}


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16, torch.float64])
def test_caller_logits_are_left_unchanged(dtype):
    logits = random_logits(100, 2.0, 0).to(dtype)
    original = logits.clone()
    s = Sampler(
        SamplerSettings(top_p=0.8, presence_penalty=0.5, banned_tokens=(3, int(logits.argmax()))), 100
    )
    for _ in range(5):
        s.accept(s.sample(logits))
        s.probabilities(logits)
    assert torch.equal(logits, original)


def test_low_precision_logits_are_sampled_in_float32():
    logits = random_logits(300, 2.0, 4).to(torch.bfloat16)
    s = sampler(300, top_p=0.7)
    torch.testing.assert_close(s.probabilities(logits), s.probabilities(logits.float()))


def test_logits_of_the_wrong_shape_are_refused():
    s = sampler(10)
    with pytest.raises(ValueError, match="10"):
        s.sample(torch.zeros(11))
    with pytest.raises(ValueError, match="1-D"):
        s.sample(torch.zeros(1, 10))


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_nan_logits_are_refused(temperature):
    with pytest.raises(ValueError, match="NaN"):
        sampler(4, temperature=temperature).sample(torch.full((4,), math.nan))


def test_impossible_bans_are_refused():
    with pytest.raises(ValueError, match="outside"):
        Sampler(SamplerSettings(banned_tokens=(10,)), 10)
    with pytest.raises(ValueError, match="every token"):
        Sampler(SamplerSettings(banned_tokens=(0, 1, 2)), 3)
    with pytest.raises(ValueError, match="outside"):
        sampler(3).accept(3)


# ---------------------------------------------------------------- settings


@pytest.mark.parametrize(
    "bad",
    [
        {"temperature": -0.1},
        {"temperature": math.nan},
        {"top_p": 1.01},
        {"top_p": -0.01},
        {"top_k": -1},
        {"top_k": 2.5},
        {"penalty_decay": 0.0},
        {"penalty_decay": 1.001},
        {"presence_penalty": math.inf},
        {"frequency_penalty": "1"},
        {"banned_tokens": (1, -2)},
        {"banned_tokens": 5},
        {"seed": -1},
        {"seed": 1.5},
    ],
)
def test_invalid_settings_are_refused(bad):
    name = next(iter(bad))
    with pytest.raises(ValueError, match=name):
        SamplerSettings(**bad)
    with pytest.raises(ValueError, match=name):
        SamplerSettings.from_dict(bad)


def test_settings_round_trip_through_json():
    settings = SamplerSettings(temperature=0.7, top_k=20, banned_tokens=(0, 5), seed=2**63)
    stored = json.dumps(settings.to_dict())
    assert SamplerSettings.from_dict(json.loads(stored)) == settings


def test_from_dict_ignores_unknown_keys_and_fills_defaults():
    settings = SamplerSettings.from_dict({"top_p": 0.5, "mirostat_tau": 5.0})
    assert settings == SamplerSettings(top_p=0.5)


def test_default_settings_and_runner_preset_are_runners_defaults():
    runner = PRESETS["RWKV Runner"]
    assert runner == SamplerSettings()
    assert (runner.temperature, runner.top_p, runner.top_k) == (1.0, 0.3, 0)
    assert (runner.presence_penalty, runner.frequency_penalty, runner.penalty_decay) == (0.0, 1.0, 0.996)


def test_presets_are_valid_and_distinct():
    assert set(PRESETS) == {"Balanced", "Creative", "Precise", "RWKV Runner"}
    for settings in PRESETS.values():
        assert SamplerSettings.from_dict(settings.to_dict()) == settings
        Sampler(settings, 100).sample(random_logits(100, 1.0, 0))
    assert len(set(PRESETS.values())) == len(PRESETS)


# ---------------------------------------------------------------- exempt ids


def test_exempt_ids_are_pieces_of_space_tab_and_digits():
    pieces = [b"", b" ", b"\t", b"0", b"12", b"345", b" \t0", b"13", b"9 ", b"a", b"  ", b"1\n", b"\xe4"]
    assert penalty_exempt_ids(FakeTokenizer(pieces)) == frozenset({1, 2, 3, 4, 5, 6})


def test_exempt_ids_match_the_oracle_on_the_world_vocabulary():
    from rwkv.rwkv_tokenizer import TRIE_TOKENIZER

    world = TRIE_TOKENIZER(str(REPO_ROOT / "resources/tokenizers/rwkv_vocab_v20230424.txt"))
    expected = {i for i in world.idx2token if world.decode([i]) in " \t0123456789"}
    tokenizer = FakeTokenizer([world.idx2token.get(i, b"") for i in range(65536)])
    assert penalty_exempt_ids(tokenizer) == expected
    assert len(expected) == 22


def test_exempt_ids_are_cached_per_tokenizer_and_fast():
    tokenizer = FakeTokenizer([bytes([i % 256, i // 256]) for i in range(65536)])
    start = time.perf_counter()
    first = penalty_exempt_ids(tokenizer)
    assert time.perf_counter() - start < 0.1
    assert tokenizer.calls == 65536
    assert penalty_exempt_ids(tokenizer) is first
    assert tokenizer.calls == 65536
    other = FakeTokenizer([b" "] * 4)
    assert penalty_exempt_ids(other) == frozenset(range(4))


def test_logit_bias_shifts_logits_before_anything_else_and_round_trips():
    settings = SamplerSettings(temperature=0.0, top_p=0.0, logit_bias=[[3, 100], (1, -100.0)])
    assert settings.logit_bias == ((3, 100.0), (1, -100.0))
    assert SamplerSettings.from_dict(settings.to_dict()) == settings
    logits = torch.tensor([0.0, 5.0, 1.0, -2.0])
    assert Sampler(settings, 4).sample(logits) == 3
    assert Sampler(SamplerSettings(temperature=0.0, top_p=0.0, logit_bias=((1, -100),)), 4).sample(logits) == 2
    for bad in ([(1, 101)], [(-1, 1)], [("a", 1)], [(1,)], [(True, 1)]):
        with pytest.raises(ValueError, match="logit_bias|logit bias"):
            SamplerSettings(logit_bias=bad)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        Sampler(SamplerSettings(logit_bias=((9, 1.0),)), 4)
