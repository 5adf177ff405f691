"""Tokenizers: the RWKV World vocabulary and Hugging Face ``tokenizer.json`` files.

Every tokenizer can report the exact bytes of a token, so streamed output is assembled from bytes
and cut only between whole UTF-8 characters: a World token often holds half an emoji or half a
CJK character, and printing it on its own would show a replacement character.

World encoding is greedy longest-prefix matching over UTF-8 bytes, as BlinkDL's ``TRIE_TOKENIZER``
does it, but without the trie, which takes seconds to build in Python: a dict maps token bytes to
ids, and for every two-byte prefix we keep the lengths of the tokens that start with it, longest
first, so each position costs a couple of probes. Text is first cut at whitespace where the
vocabulary proves no token can straddle the cut, and the ids of short pieces are cached.
"""

from __future__ import annotations

import functools
import itertools
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from importlib.resources import files
from pathlib import Path
from typing import Any

from engine.errors import TokenizerError

__all__ = ["StreamDecoder", "Tokenizer", "load_tokenizer"]

_WORLD_VOCAB = "rwkv_vocab_v20230424.txt"
_WORLD_NAMES = ("world", "rwkv_vocab_v20230424")
_WORLD_VOCAB_SIZE = 65536  # the embedding size of World models; ids 65530.. have no token, like id 0
_PILE_FILE = "20B_tokenizer.json"   # GPT-NeoX-20B's tokenizer: RWKV-4 Pile / Raven / Novel models
_PILE_NAMES = ("20b", "pile", "20b_tokenizer", "gpt-neox-20b")
_PILE_VOCAB_SIZES = range(50277, 50305)   # 50,277 tokens; some embeddings are padded to 50,304
_EOS_NAMES = ("<|endoftext|>", "</s>")
# A lone half of a UTF-16 surrogate pair: a str can hold one (JSON's "\\ud800", a file read with
# "surrogateescape"), but it is not Unicode text and has no UTF-8 bytes to tokenize.
_SURROGATE = re.compile("[\ud800-\udfff]")
# Piece cache bounds: about 3 MB at most; longer pieces (CJK runs, long identifiers) rarely repeat.
_CACHED_PIECES = 1 << 15
_CACHED_PIECE_BYTES = 48


class StreamDecoder:
    """Turns token ids into text as they arrive, never emitting half a UTF-8 character.

    Bytes are accumulated and only a trailing sequence that could still become a valid character
    (at most three bytes) is held back; bytes that can never become valid are emitted at once as
    U+FFFD, so the concatenated output equals ``bytes.decode("utf-8", "replace")`` of the whole.
    """

    def __init__(self, token_bytes: Callable[[int], bytes]) -> None:
        self._token_bytes = token_bytes
        self._pending = b""

    def push(self, token_id: int) -> str:
        """Add one token; return the text it completes (often "" in the middle of a character)."""
        data = self._pending + self._token_bytes(token_id)
        cut = _complete_prefix_length(data)
        self._pending = data[cut:]
        return data[:cut].decode("utf-8", errors="replace")

    def flush(self) -> str:
        """Return whatever is held back (an unfinished character becomes U+FFFD) and reset."""
        data, self._pending = self._pending, b""
        return data.decode("utf-8", errors="replace")


# Allowed range of the second byte after each multi-byte lead byte (Unicode Table 3-7); bytes
# after the second are plain continuation bytes. C0, C1 and F5..FF can never start a character.
_SECOND_BYTE: dict[int, range] = {
    **{lead: range(0x80, 0xC0) for lead in range(0xC2, 0xF5)},
    0xE0: range(0xA0, 0xC0),
    0xED: range(0x80, 0xA0),
    0xF0: range(0x90, 0xC0),
    0xF4: range(0x80, 0x90),
}


def _sequence_length(lead: int) -> int:
    return 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4


def _complete_prefix_length(data: bytes) -> int:
    """Length of ``data`` without a trailing sequence that more bytes could still complete."""
    for back in range(1, min(3, len(data)) + 1):
        lead = data[-back]
        if 0x80 <= lead < 0xC0:  # a continuation byte: look further back for its lead
            continue
        if lead not in _SECOND_BYTE or _sequence_length(lead) <= back:
            return len(data)  # complete, or invalid for good: nothing to wait for
        if back > 1 and data[1 - back] not in _SECOND_BYTE[lead]:
            return len(data)
        return len(data) - back
    return len(data)


class Tokenizer(ABC):
    """What the engine needs from a tokenizer; subclasses supply ``encode`` and ``token_bytes``."""

    name: str
    vocab_size: int
    eos_id: int | None

    @abstractmethod
    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``, with no BOS or EOS added: prompts are encoded in parts. Text that is
        not valid Unicode (an unpaired surrogate) raises :class:`TokenizerError`."""

    @abstractmethod
    def token_bytes(self, token_id: int) -> bytes:
        """The bytes of one token; b"" for ids with no entry (World id 0 is end-of-text)."""

    def decode_bytes(self, ids: Sequence[int]) -> bytes:
        return b"".join(map(self.token_bytes, ids))

    def decode(self, ids: Sequence[int]) -> str:
        """Text of the ids; invalid UTF-8 (a token sequence cut mid-character) becomes U+FFFD."""
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    def stream(self) -> StreamDecoder:
        return StreamDecoder(self.token_bytes)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} vocab_size={self.vocab_size}>"


class _WorldTokenizer(Tokenizer):
    """Greedy longest-prefix match over UTF-8 bytes; equal to ``TRIE_TOKENIZER.encode``."""

    def __init__(self, tokens: dict[int, bytes]) -> None:
        self.name = "world"
        self.vocab_size = _WORLD_VOCAB_SIZE
        self.eos_id = 0
        self._bytes = tokens
        self._ids = {token: token_id for token_id, token in tokens.items()}
        missing = [byte for byte in range(256) if bytes([byte]) not in self._ids]
        if missing:
            raise TokenizerError("The World vocabulary cannot encode every byte: no token for {missing}",
                                 missing=missing[:8])
        lengths: dict[bytes, set[int]] = {}
        for token in self._ids:
            lengths.setdefault(token[:2], set()).add(len(token))
        # Every table ends with 1: a single byte always matches, so the probe loop always ends.
        self._lengths = {prefix: (*sorted(found - {1}, reverse=True), 1) for prefix, found in lengths.items()}
        self._pieces = _piece_pattern(self._ids)
        self._cache: dict[bytes, list[int]] = {}

    def encode(self, text: str) -> list[int]:
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError as e:
            raise _not_unicode(text, e.start) from None
        return self.encode_bytes(data)

    def encode_bytes(self, data: bytes) -> list[int]:
        """Encode piece by piece: no token straddles two pieces, and short pieces (words, mostly)
        repeat so often that caching their ids makes English and code several times faster."""
        ids: list[int] = []
        extend, cached, cache = ids.extend, self._cache.get, self._cache
        for piece in self._pieces.findall(data):
            piece_ids = cached(piece)
            if piece_ids is None:
                piece_ids = self._greedy(piece)
                if len(piece) <= _CACHED_PIECE_BYTES:
                    if len(cache) >= _CACHED_PIECES:
                        cache.clear()
                    cache[piece] = piece_ids
            extend(piece_ids)
        return ids

    def _greedy(self, data: bytes) -> list[int]:
        """Longest match at each position: probe the lengths of the tokens sharing the next two
        bytes, longest first, skipping those that would run past the end."""
        ids: list[int] = []
        append, token_id_of, lengths_of = ids.append, self._ids.get, self._lengths.get
        i, end, single = 0, len(data), (1,)
        while i < end:
            left = end - i
            for length in lengths_of(data[i : i + 2], single):
                if length <= left:
                    token_id = token_id_of(data[i : i + length])
                    if token_id is not None:
                        break
            append(token_id)
            i += length
        return ids

    def token_bytes(self, token_id: int) -> bytes:
        return self._bytes.get(token_id, b"")

    def decode_bytes(self, ids: Sequence[int]) -> bytes:
        return b"".join(map(self._bytes.get, ids, itertools.repeat(b"")))


def _not_unicode(text: str, at: int) -> TokenizerError:
    return TokenizerError("The text cannot be tokenized: it holds an unpaired UTF-16 surrogate "
                          "(\\u{code:04x}) at character {at}, which is not valid Unicode.", code=ord(text[at]), at=at)


def _piece_pattern(tokens: Iterable[bytes]) -> re.Pattern[bytes]:
    """A regex cutting text before whitespace wherever no token can straddle the cut.

    Whitespace starts a new piece unless the byte before it also precedes that whitespace inside
    some token (in World: other whitespace, or the end of "。" before "\\n"). Where no token holds
    both bytes, every tokenization, the greedy one included, has a boundary between them, so the
    pieces can be encoded on their own. Read from the vocabulary, not assumed.
    """
    # The NUL separator can only add "NUL before whitespace" pairs: less cutting, never a wrong cut.
    pairs = re.findall(rb"(?s)(.)(?=([ \t\n\r]))", b"\0".join(tokens))
    glued: dict[bytes, set[int]] = {}
    for before, space in pairs:
        glued.setdefault(space, set()).add(before[0])
    stays = b"".join(
        b"|(?<=[" + b"".join(b"\\x%02x" % byte for byte in sorted(befores)) + b"])" + b"\\x%02x" % space[0]
        for space, befores in sorted(glued.items())
    )
    return re.compile(rb"[ \t\n\r]?(?:[^ \t\n\r]+" + stays + rb")*")


def _parse_vocab_literal(literal: str) -> bytes:
    """Bytes of a ``repr()`` of ``str`` or ``bytes`` as written in the World vocabulary file.

    ``unicode_escape`` understands exactly the escapes ``repr`` writes; characters beyond Latin-1
    are turned into ``\\u`` escapes first so the Latin-1 round trip cannot lose them. This is ~5x
    faster than ``ast.literal_eval`` and never evaluates code.
    """
    if literal[:2] in ("b'", 'b"'):
        body = literal[2:-1]
        if "\\" not in body:
            return body.encode("ascii")
        return body.encode("ascii").decode("unicode_escape").encode("latin-1")
    if literal[:1] not in ("'", '"') or literal[-1:] != literal[:1]:
        raise ValueError(f"not a string literal: {literal!r}")
    body = literal[1:-1]
    if "\\" in body:
        body = body.encode("latin-1", errors="backslashreplace").decode("unicode_escape")
    return body.encode("utf-8")


def _parse_world_vocab(text: str, source: object) -> dict[int, bytes]:
    """Token bytes by id from lines ``id repr(str_or_bytes) byte_length``; ``source`` names the file
    in errors."""
    tokens: dict[int, bytes] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        if not line:
            continue
        try:
            token_id, rest = line.split(" ", 1)
            literal, length = rest.rsplit(" ", 1)
            if literal[:1] in ("'", '"') and "\\" not in literal:  # 64,000 of the 65,529 lines
                token = literal[1:-1].encode("utf-8")
            else:
                token = _parse_vocab_literal(literal)
            if len(token) != int(length):
                raise ValueError(f"{len(token)} bytes where the line says {length}")
            tokens[int(token_id)] = token
        except (ValueError, UnicodeError) as error:
            raise TokenizerError("Line {number} of vocabulary {source} is damaged: {error}",
                                 number=number, source=source, error=error) from error
    if not tokens:
        raise TokenizerError("Vocabulary {source} is empty", source=source)
    return tokens


def _gpt2_byte_alphabet() -> dict[str, int]:
    """The character byte-level BPE uses for each byte: printable Latin-1 stands for itself, the
    other 68 bytes are moved to U+0100 upwards, in byte order."""
    printable = [*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    shifted = (byte for byte in range(256) if byte not in printable)
    chars = {byte: chr(byte) for byte in printable}
    chars.update({byte: chr(0x100 + n) for n, byte in enumerate(shifted)})
    return {char: byte for byte, char in chars.items()}


class _HuggingFaceTokenizer(Tokenizer):
    """A ``tokenizers`` file. Byte-level BPE gets exact per-token bytes; anything else streams by
    re-decoding a short window of ids, the only way to get text out of it."""

    def __init__(self, path: Path, inner: Any) -> None:
        from tokenizers import decoders

        self.name = path.name
        self._inner = inner
        self.vocab_size = inner.get_vocab_size()
        self.eos_id = next((i for i in map(inner.token_to_id, _EOS_NAMES) if i is not None), None)
        self._bytes: dict[int, bytes] | None = None
        if isinstance(inner.decoder, decoders.ByteLevel):
            self._bytes = self._byte_level_table()

    def _byte_level_table(self) -> dict[int, bytes]:
        """Bytes of every id, as ``Tokenizer.decode`` would produce them (special tokens are
        skipped there, so they are b"" here; other added tokens are stored as plain text)."""
        alphabet = _gpt2_byte_alphabet()
        added = self._inner.get_added_tokens_decoder()
        table: dict[int, bytes] = {}
        for token, token_id in self._inner.get_vocab(with_added_tokens=True).items():
            if token_id in added:
                table[token_id] = b"" if added[token_id].special else token.encode("utf-8")
            elif all(char in alphabet for char in token):
                table[token_id] = bytes(alphabet[char] for char in token)
            else:
                table[token_id] = token.encode("utf-8")
        return table

    def encode(self, text: str) -> list[int]:
        try:
            return self._inner.encode(text, add_special_tokens=False).ids
        except TypeError:           # what `tokenizers` raises for a str it cannot turn into UTF-8
            found = _SURROGATE.search(text) if isinstance(text, str) else None
            if found:
                raise _not_unicode(text, found.start()) from None
            raise

    def token_bytes(self, token_id: int) -> bytes:
        if self._bytes is not None:
            return self._bytes.get(token_id, b"")
        return self._inner.decode([token_id]).encode("utf-8")

    def decode_bytes(self, ids: Sequence[int]) -> bytes:
        if self._bytes is not None:
            return b"".join(map(self._bytes.get, ids, itertools.repeat(b"")))
        return self._inner.decode(list(ids)).encode("utf-8")

    def decode(self, ids: Sequence[int]) -> str:
        if self._bytes is not None:
            return super().decode(ids)
        return self._inner.decode(list(ids))

    def stream(self) -> StreamDecoder:
        if self._bytes is not None:
            return super().stream()
        return _TextStreamDecoder(self._inner.decode)


class _TextStreamDecoder(StreamDecoder):
    """Streaming for tokenizers whose tokens have no bytes of their own (e.g. SentencePiece-style
    decoders that drop a leading space): decode the fresh ids together with the previous batch, for
    context, and emit what that adds, waiting while the text ends in U+FFFD (an unfinished
    character). Shares only the interface of ``StreamDecoder``, none of its byte handling."""

    def __init__(self, decode: Callable[[list[int]], str]) -> None:
        self._decode = decode
        self._context: list[int] = []  # ids whose text has been emitted already
        self._fresh: list[int] = []

    def push(self, token_id: int) -> str:
        self._fresh.append(token_id)
        text = self._decode(self._context + self._fresh)
        if text.endswith("\ufffd"):
            return ""
        emitted = self._decode(self._context)
        self._context, self._fresh = self._fresh, []
        return text[len(emitted) :]

    def flush(self) -> str:
        text = self._decode(self._context + self._fresh)[len(self._decode(self._context)) :]
        self._context, self._fresh = [], []
        return text


@functools.cache
def _load_world() -> Tokenizer:
    # Through importlib.resources, so the vocabulary is found inside a PyInstaller bundle too.
    source = files("resources") / "tokenizers" / _WORLD_VOCAB
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as error:
        raise TokenizerError("The World vocabulary {source} could not be read: {error}",
                             source=source, error=error) from error
    return _WorldTokenizer(_parse_world_vocab(text, source))


def _load_pile() -> Tokenizer:
    source = files("resources") / "tokenizers" / _PILE_FILE
    if not source.is_file():
        raise TokenizerError("The 20B (Pile) tokenizer {source} is missing from this installation.", source=source)
    return _load_hugging_face(Path(str(source)))


@functools.cache
def _load_hugging_face(path: Path) -> Tokenizer:
    from tokenizers import Tokenizer as HFTokenizer

    try:
        inner = HFTokenizer.from_file(str(path))
    except Exception as error:  # tokenizers raises bare Exception for unreadable files
        raise TokenizerError("Could not read tokenizer file {path}: {error}", path=path, error=error) from error
    return _HuggingFaceTokenizer(path, inner)


def load_tokenizer(name_or_path: str | os.PathLike = "world") -> Tokenizer:
    """The tokenizer called ``name_or_path``, built once per process.

    ``"world"`` (or ``"rwkv_vocab_v20230424"``, the name ChatRWKV uses) is the bundled RWKV World
    vocabulary, ``"20b"`` (or ``"pile"``) the bundled GPT-NeoX-20B tokenizer of RWKV-4 Pile and
    Raven models; anything else (and any ``os.PathLike``) is a path to a ``tokenizer.json`` file or
    to a folder holding one.
    """
    if isinstance(name_or_path, str) and name_or_path.lower() in _WORLD_NAMES:
        return _load_world()
    if isinstance(name_or_path, str) and name_or_path.lower() in _PILE_NAMES:
        return _load_pile()
    path = Path(name_or_path).expanduser()   # a Path is always a path, even one called "world"
    if path.is_dir():
        path = path / "tokenizer.json"
    if not path.is_file():
        raise TokenizerError(
            "No tokenizer {name}: it is not one of {names} and there is "
            "no file at {path}",
            name=repr(name_or_path), names=", ".join(_WORLD_NAMES + _PILE_NAMES), path=path.resolve()
        )
    return _load_hugging_face(path.resolve())


def tokenizer_for(model: Any, override: str | None = None) -> Tokenizer:
    """The tokenizer a model was trained with: ``override`` if given, else a ``tokenizer.json`` in
    the model's folder (or beside its file), else by embedding size: 65,536 rows are the World
    vocabulary (World, G1, Eagle, Finch and RWKV-7 models), 50,277 to 50,304 the 20B tokenizer
    (RWKV-4 Pile, Raven and Novel models).

    ``model`` is anything with ``info.path`` and ``info.vocab_size`` (an ``engine.Model``).
    """
    if override:
        return load_tokenizer(override)
    path = Path(model.info.path)
    beside = (path if path.is_dir() else path.parent) / "tokenizer.json"
    if beside.is_file():
        return load_tokenizer(str(beside))
    if model.info.vocab_size == _WORLD_VOCAB_SIZE:
        return load_tokenizer("world")
    if model.info.vocab_size in _PILE_VOCAB_SIZES:
        return load_tokenizer("20b")
    raise TokenizerError(
        "Cannot tell which tokenizer '{name}' needs (vocabulary of {vocab} and no "
        "tokenizer.json beside it); name one with --tokenizer.", name=path.name, vocab=model.info.vocab_size
    )
