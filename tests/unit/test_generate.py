"""generate(): streaming, stop strings, stop tokens, limits, cancel, continuation, seeds."""

from __future__ import annotations

import threading

import pytest
import torch

import engine
from engine.errors import EmptyPromptError
from engine.text.generation import _held_back, completion_tokens, feed, generate
from engine.text.sampling import SamplerSettings

from .conftest import GREEDY

PROMPT = "User: Write a short poem about rivers.\n\nAssistant:"


def _greedy(model, tok, n=40, **kw):
    gen = generate(model, tok, PROMPT, settings=GREEDY, max_tokens=n, stop_tokens=[], **kw)
    pieces = list(gen)
    return gen, pieces


def test_pieces_concatenate_to_the_text_and_length_stops(world_model, world_tok):
    gen, pieces = _greedy(world_model, world_tok)
    assert "".join(pieces) == gen.text == world_tok.decode(gen.tokens)
    assert gen.stop_reason == "length" and len(gen.tokens) == 40
    assert gen.state.tokens_seen == len(world_tok.encode(PROMPT)) + 40


def test_stop_string_cuts_the_text_and_the_state_has_read_it(world_model, world_tok):
    full, _ = _greedy(world_model, world_tok)
    stop = full.text[10:14]
    cut = full.text.index(stop)
    gen, pieces = _greedy(world_model, world_tok, stop=[stop])
    assert gen.stop_reason == "stop"
    assert "".join(pieces) == gen.text == full.text[:cut]
    assert stop not in "".join(pieces)
    # every generated token was fed, the one completing the stop string included
    assert world_tok.decode(gen.tokens).startswith(full.text[:cut] + stop)
    assert gen.state.tokens_seen == len(world_tok.encode(PROMPT)) + len(gen.tokens)


def test_held_back_text_is_only_a_possible_stop_prefix():
    assert _held_back("hello\n", ["\n\n"]) == 1
    assert _held_back("hello", ["\n\n"]) == 0
    assert _held_back("abUs", ["\n\nUser", "Use"]) == 2


def test_stop_token_ends_without_emitting_it(world_model, world_tok):
    full, _ = _greedy(world_model, world_tok)
    stop_id = full.tokens[5]
    gen, _ = _greedy(world_model, world_tok, n=40)
    gen2 = generate(world_model, world_tok, PROMPT, settings=GREEDY, max_tokens=40, stop_tokens=[stop_id])
    gen2.run()
    assert gen2.stop_reason == "eos"
    assert gen2.tokens == full.tokens[:full.tokens.index(stop_id)]
    assert gen.tokens == full.tokens


def test_cancel_between_tokens(world_model, world_tok):
    cancel = threading.Event()
    gen = generate(world_model, world_tok, PROMPT, settings=GREEDY, max_tokens=100, stop_tokens=[],
                   cancel=cancel)
    got = []
    for piece in gen:
        got.append(piece)
        if len(gen.tokens) >= 5:
            cancel.set()
    assert gen.stop_reason == "cancelled"
    assert 5 <= len(gen.tokens) <= 6


def test_cancel_between_prompt_chunks(world_model, world_tok):
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 2          # allow two prompt chunks, then stop

    long_prompt = list(range(300, 400))
    gen = generate(world_model, world_tok, long_prompt, settings=GREEDY, cancel=cancel, chunk_len=16)
    assert list(gen) == [] and gen.stop_reason == "cancelled"
    assert gen.state.tokens_seen == 32 and gen.tokens == []


def test_chunked_prompt_equals_one_call(world_model):
    tokens = list(range(1000, 1090))
    s1, s2 = world_model.new_state(), world_model.new_state()
    one = feed(world_model, tokens, s1, chunk_len=1000)
    parts = feed(world_model, tokens, s2, chunk_len=7)
    assert (one - parts).abs().max() <= 1e-4
    assert (s1.wkv - s2.wkv).abs().max() <= 1e-4


def test_empty_prompt_continues_from_the_state_or_fails_clearly(world_model, world_tok):
    with pytest.raises(EmptyPromptError):
        generate(world_model, world_tok, "")
    first, _ = _greedy(world_model, world_tok, n=10)
    more = generate(world_model, world_tok, None, state=first.state, settings=GREEDY, max_tokens=5,
                    stop_tokens=[])
    more.run()
    whole, _ = _greedy(world_model, world_tok, n=15)
    assert first.tokens + more.tokens == whole.tokens


def test_seeded_sampling_is_reproducible(world_model, world_tok):
    def run(seed):
        s = SamplerSettings(temperature=1.0, top_p=0.9, seed=seed)
        return generate(world_model, world_tok, PROMPT, settings=s, max_tokens=25, stop_tokens=[]).run()

    assert run(1) == run(1)
    assert run(1) != run(2)


def test_generate_does_not_touch_the_model_weights(world_model, world_tok):
    head = world_model.head.clone()
    _greedy(world_model, world_tok, n=3)
    assert torch.equal(head, world_model.head)


@pytest.fixture(scope="module")
def pile_model(legacy_checkpoint):
    from tests.fixtures.legacy_checkpoints import LegacySpec

    return engine.load(legacy_checkpoint(LegacySpec(4, n_layer=2, n_embd=64, vocab_size=50277)))


def test_a_pile_prompt_ending_in_a_blank_line_is_fed_as_two_newlines(pile_model):
    pile = engine.load_tokenizer("20b")
    assert pile.encode("Q: hi\n\n")[-1] == 535            # encode itself stays exact
    gen = generate(pile_model, pile, "Q: hi\n\n", settings=GREEDY, max_tokens=4)
    assert gen.prompt_tokens == pile.encode("Q: hi") + [187, 187]
    same = generate(pile_model, pile, pile.encode("Q: hi") + [187, 187], settings=GREEDY, max_tokens=4)
    assert gen.run() == same.run() and gen.stats.prompt_tokens == len(same.prompt_tokens)


def test_only_a_trailing_pile_blank_line_is_rewritten(pile_model, world_tok):
    pile = engine.load_tokenizer("20b")
    assert completion_tokens(pile, "a\n\nb") == pile.encode("a\n\nb")
    assert completion_tokens(world_tok, "a\n\n") == world_tok.encode("a\n\n")     # World: 261 stays
    given = pile.encode("a\n\n")
    assert generate(pile_model, pile, given, max_tokens=1).prompt_tokens == given     # token lists as given
