"""The tokenizers against BlinkDL's ``TRIE_TOKENIZER`` (World) and the ``tokenizers`` library (HF)."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
import rwkv
from rwkv.rwkv_tokenizer import TRIE_TOKENIZER

import engine.text.tokenizer as tokenizer_module
from engine.errors import TokenizerError
from engine.text.tokenizer import StreamDecoder, Tokenizer, load_tokenizer

ENGLISH = (
    "The quick brown fox jumps over the lazy dog. It was the best of times, it was the worst of times.\n\n"
    "User: What's the capital of France?\n\nAssistant: Paris is the capital of France."
)
CHINESE = "中华人民共和国是一个位于东亚的国家。人工智能正在改变世界，我们需要认真思考它的影响。\n"
JAPANESE = "日本語のテキストです。東京は日本の首都であり、ひらがなとカタカナと漢字を使います。"
KOREAN = "한국어 텍스트입니다. 서울은 대한민국의 수도입니다."
RARE_CJK = "𠀀𠀁𪚥龘靐齉 are rare, so byte tokens carry them"
EMOJI = "family 👨‍👩‍👧‍👦, flags 🇯🇵🇺🇸, tones 👍🏽👋🏿, rainbow 🏳️‍🌈, keycap 1️⃣ 😀🎉"
CODE = (
    "def f(x):\n\tif x > 0:\n\t\treturn x * 2  # twice\n    else:\n        return {'a': [1, 2, 3]}\r\n"
    '\r\n#include <stdio.h>\nint main(void) { printf("%d\\n", 42); }\n'
)
WHITESPACE = " " * 37 + "x" + "\t" * 9 + "\n" * 7 + "  \n  \n\r\n\r\n \t \n" + " " * 300 + "\n\n\n\ny"
CONTROL = "\x00a\x00\x01\x02\x07\x08\x0b\x0c\x1b[31mred\x1b[0m\x7f\u0085\u2028\u2029\ufeff\ufffd"

CORPUS = {
    "empty": "",
    "english": ENGLISH,
    "chinese": CHINESE,
    "japanese": JAPANESE,
    "korean": KOREAN,
    "rare cjk": RARE_CJK,
    "emoji": EMOJI,
    "code": CODE,
    "whitespace": WHITESPACE,
    "control": CONTROL,
    "single space": " ",
    "cjk punctuation before newline": "好。\n\n好。\r\n。 \n",
    "mixed": ENGLISH + CHINESE + EMOJI + CODE + JAPANESE + WHITESPACE + KOREAN + RARE_CJK,
}


def _random_unicode(rng: random.Random, length: int) -> str:
    """Characters from every plane that UTF-8 can carry (no surrogates), ASCII-heavy like text."""
    ranges = [
        (0x20, 0x7E),
        (0x00, 0x1F),
        (0x80, 0x7FF),
        (0x800, 0xD7FF),
        (0xE000, 0xFFFF),
        (0x10000, 0x10FFFF),
    ]
    return "".join(chr(rng.randint(*rng.choice(ranges))) for _ in range(length))


def _random_byteish(rng: random.Random, length: int) -> str:
    """Latin-1 characters, whitespace and NULs: every one-byte and most two-byte tokens."""
    choices = [" ", "\n", "\r\n", "\t", "\x00"]
    return "".join(rng.choice([chr(rng.randint(0, 0xFF)), *choices]) for _ in range(length))


def _random_token_soup(rng: random.Random, texts: list[str], length: int) -> str:
    """Real tokens glued with whitespace: many near-misses for the longest match and the cuts."""
    glue = ["", " ", "  ", "\n", "\r\n", "\t", "。", "\n\n"]
    return "".join(rng.choice(texts) + rng.choice(glue) for _ in range(length))


@pytest.fixture(scope="module")
def oracle() -> TRIE_TOKENIZER:
    return TRIE_TOKENIZER(os.path.join(os.path.dirname(rwkv.__file__), "rwkv_vocab_v20230424.txt"))


@pytest.fixture(scope="module")
def world() -> Tokenizer:
    return load_tokenizer("world")


@pytest.mark.parametrize("text", CORPUS.values(), ids=CORPUS.keys())
def test_world_encode_equals_oracle(world: Tokenizer, oracle: TRIE_TOKENIZER, text: str) -> None:
    assert world.encode(text) == oracle.encode(text)


def test_world_encode_equals_oracle_on_random_text(world: Tokenizer, oracle: TRIE_TOKENIZER) -> None:
    rng = random.Random(20230424)
    token_texts = []
    for token in oracle.idx2token.values():
        try:
            token_texts.append(token.decode("utf-8"))
        except UnicodeDecodeError:
            continue
    for _ in range(400):
        for text in (
            _random_unicode(rng, rng.randint(1, 80)),
            _random_byteish(rng, rng.randint(1, 80)),
            _random_token_soup(rng, token_texts, rng.randint(1, 12)),
        ):
            assert world.encode(text) == oracle.encode(text), repr(text)


def test_world_encode_equals_oracle_on_very_long_text(world: Tokenizer, oracle: TRIE_TOKENIZER) -> None:
    text = "".join(CORPUS.values()) * 60 + "=" * 5000 + " " * 20000
    assert len(text) > 100_000
    assert world.encode(text) == oracle.encode(text)


def test_world_encode_is_unchanged_when_the_piece_cache_overflows(
    world: Tokenizer, oracle: TRIE_TOKENIZER, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tokenizer_module, "_CACHED_PIECES", 3)
    monkeypatch.setattr(world, "_cache", {})
    text = CORPUS["mixed"]
    assert world.encode(text) == oracle.encode(text)
    assert world.encode(text) == oracle.encode(text)
    assert len(world._cache) <= 3


def test_world_known_ids(world: Tokenizer) -> None:
    assert world.encode("\n\n") == [261]
    assert world.encode("User:") == [24281, 59]


def test_world_token_bytes_equal_oracle_for_every_id(world: Tokenizer, oracle: TRIE_TOKENIZER) -> None:
    assert len(oracle.idx2token) == 65529
    for token_id, token in oracle.idx2token.items():
        assert world.token_bytes(token_id) == token, token_id


def test_world_describes_itself(world: Tokenizer) -> None:
    assert (world.name, world.vocab_size, world.eos_id) == ("world", 65536, 0)
    assert world.token_bytes(0) == b""
    assert world.token_bytes(65535) == b""
    assert world.decode([0]) == ""
    assert world.decode_bytes([0, 261, 65533]) == b"\n\n"


def test_world_load_is_cached(world: Tokenizer) -> None:
    assert load_tokenizer() is world
    assert load_tokenizer("rwkv_vocab_v20230424") is world


@pytest.mark.parametrize("text", CORPUS.values(), ids=CORPUS.keys())
def test_world_decode_round_trips(world: Tokenizer, text: str) -> None:
    ids = world.encode(text)
    assert world.decode(ids) == text
    assert world.decode_bytes(ids) == text.encode("utf-8")


def test_world_decode_replaces_invalid_utf8(world: Tokenizer) -> None:
    ids = world.encode("😀")
    assert len(ids) > 1, "the test needs an emoji split over several tokens"
    assert world.decode(ids[:-1]) == "\ufffd"
    assert world.decode(ids[:-1] + world.encode("ok")) == "\ufffdok"


def _streamed(decoder: StreamDecoder, ids: list[int]) -> list[str]:
    return [decoder.push(token_id) for token_id in ids] + [decoder.flush()]


@pytest.mark.parametrize("name", ["emoji", "rare cjk", "chinese", "japanese", "korean", "mixed"])
def test_world_stream_never_yields_half_a_character(world: Tokenizer, name: str) -> None:
    text = CORPUS[name]
    ids = world.encode(text)
    pieces = _streamed(world.stream(), ids)
    assert "".join(pieces) == text
    assert not any("\ufffd" in piece for piece in pieces)
    if name in ("emoji", "rare cjk", "mixed"):  # common CJK characters are whole tokens
        assert len(ids) > len([piece for piece in pieces if piece]), "some tokens must end mid-character"


def test_world_stream_flush_returns_the_unfinished_character(world: Tokenizer) -> None:
    ids = world.encode("ok 👨‍👩‍👧‍👦")
    cut = next(n for n in range(len(ids)) if world.decode_bytes(ids[:n]).endswith(b"\xf0\x9f"))
    decoder = world.stream()
    assert "".join(decoder.push(token_id) for token_id in ids[:cut]) == "ok "
    assert decoder.flush() == "\ufffd"
    assert decoder.flush() == ""
    assert decoder.push(world.encode("a")[0]) == "a"


@pytest.mark.parametrize(
    ("data", "now", "later"),
    [
        (b"\xf0\x9f", "", "\ufffd"),  # may still become an emoji: held back
        (b"\xe4\xb8", "", "\ufffd"),
        (b"\xff", "\ufffd", ""),  # never valid: out at once
        (b"\xc0\xaf", "\ufffd\ufffd", ""),
        (b"\xed\xa0", "\ufffd\ufffd", ""),  # would be a surrogate
        (b"\xe0\x80", "\ufffd\ufffd", ""),  # would be an overlong form
        (b"\xf4\x90", "\ufffd\ufffd", ""),  # would be above U+10FFFF
        (b"a\x80", "a\ufffd", ""),
        (b"\xf0\x9f\x98\x80", "😀", ""),
    ],
)
def test_stream_holds_back_only_what_could_still_become_valid(data: bytes, now: str, later: str) -> None:
    decoder = StreamDecoder(lambda _: data)
    assert decoder.push(0) == now
    assert decoder.flush() == later


def test_stream_equals_replace_decoding_on_random_bytes() -> None:
    rng = random.Random(7)
    alphabet = [*range(0x00, 0x80, 17), *range(0x80, 0x100)]  # mostly the bytes that make UTF-8 hard
    for _ in range(2000):
        data = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))
        cuts = sorted(rng.sample(range(len(data) + 1), k=min(len(data) + 1, rng.randint(0, 8))))
        chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        decoder = StreamDecoder(chunks.__getitem__)
        whole = data.decode("utf-8", errors="replace")
        out = ""
        for index in range(len(chunks)):
            out += decoder.push(index)
            assert whole.startswith(out), data
        assert out + decoder.flush() == whole, data


# --- Hugging Face tokenizer.json ---------------------------------------------------------------

HF_SENTENCES = [
    "Hello world, this is a tiny corpus for a tiny tokenizer.",
    "The quick brown fox jumps over the lazy dog again and again.",
    "日本語のテキストと中文的句子。 👨‍👩‍👧‍👦 🇯🇵",
]


def _train_byte_level(tmp: Path) -> Path:
    from tokenizers import Tokenizer as HFTokenizer
    from tokenizers import decoders, models, pre_tokenizers, trainers

    inner = HFTokenizer(models.BPE())
    inner.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    inner.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<|endoftext|>", "<|padding|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    inner.train_from_iterator(HF_SENTENCES * 4, trainer)
    path = tmp / "tokenizer.json"
    inner.save(str(path))
    return path


def _build_llama_style(tmp: Path) -> Path:
    """SentencePiece-style BPE: "▁" for spaces, byte-fallback tokens for unknown characters, and a
    decoder that strips the first space, so tokens have no bytes of their own."""
    from tokenizers import Tokenizer as HFTokenizer
    from tokenizers import decoders, models, normalizers

    vocab = {"<unk>": 0, "</s>": 1, **{f"<0x{byte:02X}>": 2 + byte for byte in range(256)}}
    for char in sorted(set("▁".join(HF_SENTENCES[:2]))):
        vocab.setdefault(char, len(vocab))
    inner = HFTokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>", byte_fallback=True))
    inner.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    inner.decoder = decoders.Sequence(
        [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)]
    )
    inner.add_special_tokens(["</s>"])
    path = tmp / "llama.json"
    inner.save(str(path))
    return path


@pytest.fixture(scope="module")
def byte_level_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _train_byte_level(tmp_path_factory.mktemp("byte_level"))


@pytest.fixture(scope="module")
def llama_style_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build_llama_style(tmp_path_factory.mktemp("llama_style"))


def test_hf_byte_level_round_trips_and_matches_the_library(byte_level_path: Path) -> None:
    from tokenizers import Tokenizer as HFTokenizer

    tokenizer = load_tokenizer(str(byte_level_path))
    inner = HFTokenizer.from_file(str(byte_level_path))
    assert (tokenizer.name, tokenizer.vocab_size) == ("tokenizer.json", inner.get_vocab_size())
    assert tokenizer.eos_id == inner.token_to_id("<|endoftext|>")
    for text in [*HF_SENTENCES, EMOJI, CODE, "unseen words: Zürich, Ελλάδα, 🦀"]:
        ids = tokenizer.encode(text)
        assert ids == inner.encode(text).ids
        assert tokenizer.decode(ids) == text == inner.decode(ids)
        assert tokenizer.decode_bytes(ids) == text.encode("utf-8")
        assert b"".join(map(tokenizer.token_bytes, ids)) == text.encode("utf-8")


def test_a_path_object_names_a_file_even_when_it_is_called_world(byte_level_path: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_tokenizer(byte_level_path) is load_tokenizer(str(byte_level_path))
    assert load_tokenizer(byte_level_path.parent).vocab_size == load_tokenizer(str(byte_level_path)).vocab_size
    monkeypatch.chdir(tmp_path)
    with pytest.raises(TokenizerError, match="no file at"):
        load_tokenizer(Path("world"))


def test_hf_byte_level_streams_whole_characters(byte_level_path: Path) -> None:
    tokenizer = load_tokenizer(str(byte_level_path))
    text = "🦀 Ελλάδα " + HF_SENTENCES[2]
    ids = tokenizer.encode(text)
    pieces = _streamed(tokenizer.stream(), ids)
    assert "".join(pieces) == text
    assert not any("\ufffd" in piece for piece in pieces)
    assert len(ids) > len([piece for piece in pieces if piece]), "some tokens must end mid-character"


def test_hf_special_tokens_decode_to_nothing(byte_level_path: Path) -> None:
    tokenizer = load_tokenizer(str(byte_level_path))
    assert tokenizer.eos_id is not None
    assert tokenizer.token_bytes(tokenizer.eos_id) == b""
    assert tokenizer.decode([*tokenizer.encode("a"), tokenizer.eos_id]) == "a"


def test_hf_loads_from_a_folder(byte_level_path: Path) -> None:
    assert load_tokenizer(str(byte_level_path.parent)).encode("Hello") == load_tokenizer(
        str(byte_level_path)
    ).encode("Hello")


def test_hf_without_byte_level_streams_whole_characters_as_they_complete(llama_style_path: Path) -> None:
    tokenizer = load_tokenizer(str(llama_style_path))
    assert tokenizer.eos_id == 1
    text = "Hello 🦀 tiny 日本 world"
    ids = tokenizer.encode(text)
    assert tokenizer.decode(ids) == text
    decoder = tokenizer.stream()
    out = ""
    for token_id in ids:
        out += decoder.push(token_id)
        assert text.startswith(out)
    assert out == text
    assert decoder.flush() == ""
    truncated = tokenizer.encode("a🦀")[:-1]
    assert "".join(decoder.push(token_id) for token_id in truncated) == "a"
    assert decoder.flush().startswith("\ufffd")
    assert "".join(decoder.push(token_id) for token_id in tokenizer.encode("ok")) == "ok"


# --- errors ------------------------------------------------------------------------------------


def test_unknown_name_raises_tokenizer_error() -> None:
    with pytest.raises(TokenizerError, match="no-such-tokenizer"):
        load_tokenizer("no-such-tokenizer")


def test_missing_file_raises_tokenizer_error(tmp_path: Path) -> None:
    with pytest.raises(TokenizerError, match="missing.json"):
        load_tokenizer(str(tmp_path / "missing.json"))


def test_folder_without_tokenizer_json_raises_tokenizer_error(tmp_path: Path) -> None:
    with pytest.raises(TokenizerError, match="tokenizer.json"):
        load_tokenizer(str(tmp_path))


def test_unreadable_tokenizer_file_raises_tokenizer_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(TokenizerError, match="broken.json"):
        load_tokenizer(str(path))


@pytest.mark.parametrize("which", ["world", "20b", "byte level", "llama style"])
def test_text_with_an_unpaired_surrogate_raises_tokenizer_error_naming_it(
    which: str, byte_level_path: Path, llama_style_path: Path
) -> None:
    paths = {"byte level": str(byte_level_path), "llama style": str(llama_style_path)}
    tokenizer = load_tokenizer(paths.get(which, which))
    for text, at in (("\ud800 hi", 0), ("ok \udfff", 3), ("\ude00\ud83d", 0)):   # a pair in the wrong order
        with pytest.raises(TokenizerError, match=rf"unpaired UTF-16 surrogate \(\\u{ord(text[at]):04x}\) at "
                                                 rf"character {at}\b"):
            tokenizer.encode(text)


def test_damaged_world_vocabulary_line_raises_tokenizer_error() -> None:
    with pytest.raises(TokenizerError, match="Line 2"):
        tokenizer_module._parse_world_vocab("1 'a' 1\n2 'bc' 3\n", "vocab.txt")


# --- the 20B (Pile) tokenizer and choosing a tokenizer for a model -----------------------------


def test_pile_tokenizer_is_bundled_and_equals_the_tokenizers_library() -> None:
    from importlib.resources import files

    from tokenizers import Tokenizer as HFTokenizer

    pile = load_tokenizer("20b")
    assert load_tokenizer("pile") is pile
    inner = HFTokenizer.from_file(str(files("resources") / "tokenizers" / "20B_tokenizer.json"))
    text = "Bob: Hello there!\n\nAlice: Hi. 你好 🙂 naïve code()\n"
    assert pile.encode(text) == inner.encode(text).ids
    assert pile.decode(pile.encode(text)) == text
    assert (pile.encode("\n"), pile.encode("\n\n"), pile.eos_id) == ([187], [535], 0)
    assert pile.vocab_size == 50277


def _model(path: Path, vocab_size: int):
    from types import SimpleNamespace

    return SimpleNamespace(info=SimpleNamespace(path=path, vocab_size=vocab_size))


@pytest.mark.parametrize(("vocab_size", "expected"), [(65536, "world"), (50277, "20B_tokenizer.json"),
                                                      (50304, "20B_tokenizer.json")])
def test_tokenizer_for_picks_by_vocabulary_size(tmp_path: Path, vocab_size: int, expected: str) -> None:
    from engine.text.tokenizer import tokenizer_for

    assert tokenizer_for(_model(tmp_path / "m.pth", vocab_size)).name == expected


def test_tokenizer_for_prefers_the_models_own_tokenizer_json_and_obeys_an_override(
    tmp_path: Path, byte_level_path: Path
) -> None:
    import shutil

    from engine.text.tokenizer import tokenizer_for

    folder = tmp_path / "hf-model"
    folder.mkdir()
    shutil.copy(byte_level_path, folder / "tokenizer.json")
    assert tokenizer_for(_model(folder, 65536)).name == "tokenizer.json"               # a folder model
    assert tokenizer_for(_model(folder / "model.pth", 65536)).name == "tokenizer.json"  # a file in it
    assert tokenizer_for(_model(folder, 65536), override="world").name == "world"


def test_tokenizer_for_an_unknown_vocabulary_asks_for_one(tmp_path: Path) -> None:
    from engine.text.tokenizer import tokenizer_for

    with pytest.raises(TokenizerError, match="--tokenizer"):
        tokenizer_for(_model(tmp_path / "m.pth", 1234))
