"""Choosing the next token from the model's logits.

The rules follow BlinkDL's ``rwkv.utils.PIPELINE`` (``generate`` + ``sample_logits``) and RWKV Runner,
so a conversation sampled here feels like one sampled there:

1. banned tokens become ``-inf``; every token generated so far loses
   ``presence + occurrence * frequency`` from its logit;
2. softmax at temperature 1;
3. top-p: the cutoff is the probability of the first token (in descending order) at which the
   cumulative sum reaches ``top_p``; every token with probability >= cutoff stays, so ties survive;
4. top-k keeps the ``k`` most likely of those;
5. temperature is applied to the *probabilities*, ``p ** (1 / T)``, then renormalised and drawn.

Deliberate differences from the oracle, each because the oracle's behaviour is an accident:

* ``top_p >= 1`` keeps the whole distribution. On CPU the oracle's float32 running sum of a peaked
  distribution ends just below 1.0 (about 0.9999 over 65536 tokens), so it silently turns
  ``top_p=1`` into greedy decoding. We accumulate in float64, so at other values too the cutoff is
  where the true sum crosses ``top_p``, not where float32 rounding puts it.
* ``temperature == 0`` or ``top_p == 0`` is greedy: the argmax, ties going to the lowest id. The
  oracle draws at random among tokens tied for the maximum.
* ``p ** (1 / T)`` is computed in log space, so a small temperature cannot underflow every
  probability to zero (the oracle then divides 0 by 0).
* Ties at the top-k boundary go to the lowest id instead of to whatever ``argsort`` happened to do.
* Draws use a per-sampler CPU ``torch.Generator`` (one uniform number, inverse CDF) instead of
  NumPy's global RNG, so a seed reproduces a reply on any device without touching anyone else's
  randomness.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass, fields
from typing import Any, Protocol

import numpy as np
import torch

_NUMBER_FIELDS = ("temperature", "top_p", "presence_penalty", "frequency_penalty", "penalty_decay")

# Tokens that are pieces of this string get occurrence weight 0 (the oracle's and Runner's rule), so
# spaces and digits are not pushed out of long numbers and indented code.
_EXEMPT_TEXT = b" \t0123456789"
_EXEMPT_PIECES = frozenset(
    _EXEMPT_TEXT[i:j] for i in range(len(_EXEMPT_TEXT)) for j in range(i + 1, len(_EXEMPT_TEXT) + 1)
)

# First guess at how many tokens top-p needs, widened 8x while the mass is not reached. Real model
# distributions are peaked, so one small top-k usually suffices and we avoid a full sort of the vocab.
# Past a quarter of the vocabulary one full sort is cheaper than another guess.
_TOP_P_FIRST_GUESS = 64
_TOP_P_GROWTH = 8


@dataclass(frozen=True)
class SamplerSettings:
    """How to pick tokens; stored with a conversation so a reply can be reproduced.

    The defaults are RWKV Runner's (``top_p=0.3``, ``frequency_penalty=1``, decay 0.996), which
    the RWKV-7 World/G1 models are commonly run with.
    """

    temperature: float = 1.0
    top_p: float = 0.3
    top_k: int = 0  # 0 = off
    presence_penalty: float = 0.0
    frequency_penalty: float = 1.0
    penalty_decay: float = 0.996
    banned_tokens: tuple[int, ...] = ()
    seed: int | None = None
    # (token id, bias) pairs added to the logits before anything else, as OpenAI's logit_bias:
    # -100 all but bans a token, +100 all but forces it.
    logit_bias: tuple[tuple[int, float], ...] = ()

    def __post_init__(self) -> None:
        # Validated here rather than in the sampler so bad settings loaded from disk fail at load time.
        for name in _NUMBER_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
            object.__setattr__(self, name, float(value))
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0 (0 means greedy), got {self.temperature}")
        if not 0.0 <= self.top_p <= 1.0:
            raise ValueError(f"top_p must be between 0 and 1, got {self.top_p}")
        if isinstance(self.top_k, bool) or not isinstance(self.top_k, int) or self.top_k < 0:
            raise ValueError(f"top_k must be a whole number >= 0 (0 means off), got {self.top_k!r}")
        if not 0.0 < self.penalty_decay <= 1.0:
            raise ValueError(f"penalty_decay must be in (0, 1], got {self.penalty_decay}")
        try:
            banned = tuple(self.banned_tokens)  # a JSON list comes back as a list
        except TypeError:
            raise ValueError(f"banned_tokens must be a list of ids, got {self.banned_tokens!r}") from None
        for token in banned:
            if isinstance(token, bool) or not isinstance(token, int) or token < 0:
                raise ValueError(f"banned_tokens must hold token ids >= 0, got {token!r}")
        object.__setattr__(self, "banned_tokens", banned)
        try:
            bias = tuple((pair[0], pair[1]) for pair in self.logit_bias)
        except (TypeError, IndexError, KeyError):
            raise ValueError(f"logit_bias must be (token id, bias) pairs, got {self.logit_bias!r}") from None
        for token, value in bias:
            if isinstance(token, bool) or not isinstance(token, int) or token < 0:
                raise ValueError(f"logit_bias must name token ids >= 0, got {token!r}")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not -100 <= value <= 100:
                raise ValueError(f"a logit bias must be a number from -100 to 100, got {value!r}")
        object.__setattr__(self, "logit_bias", tuple((token, float(value)) for token, value in bias))
        if self.seed is not None and (
            isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed < 2**64
        ):
            raise ValueError(f"seed must be None or a whole number in [0, 2**64), got {self.seed!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only, so the settings can live inside a saved conversation."""
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        out["banned_tokens"] = list(self.banned_tokens)
        out["logit_bias"] = [list(pair) for pair in self.logit_bias]
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SamplerSettings:
        """Read settings saved by any version: unknown keys are ignored, missing ones take defaults."""
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in d.items() if key in known})


PRESETS: dict[str, SamplerSettings] = {
    # ChatRWKV's RWKV-7 G1 chat demo (API_DEMO_CHAT.py): mild penalties that do not distort answers.
    "Balanced": SamplerSettings(temperature=1.0, top_p=0.3, presence_penalty=0.5, frequency_penalty=0.5),
    # ChatRWKV v2/chat.py style, a little wider: more varied wording for stories and brainstorming.
    "Creative": SamplerSettings(temperature=1.2, top_p=0.6, presence_penalty=0.4, frequency_penalty=0.4),
    # The setting suggested for RWKV-7 maths/reasoning: low temperature, no penalties, since repeating
    # a number or a variable name is correct there.
    "Precise": SamplerSettings(temperature=0.3, top_p=0.3, presence_penalty=0.0, frequency_penalty=0.0),
    # RWKV Runner's defaults, for users who want the behaviour they know.
    "RWKV Runner": SamplerSettings(
        temperature=1.0, top_p=0.3, top_k=0, presence_penalty=0.0, frequency_penalty=1.0, penalty_decay=0.996
    ),
}


class _TokenBytes(Protocol):
    """The part of a tokenizer this module needs."""

    vocab_size: int

    def token_bytes(self, token_id: int) -> bytes: ...


_exempt_cache: weakref.WeakKeyDictionary[Any, frozenset[int]] = weakref.WeakKeyDictionary()


def penalty_exempt_ids(tokenizer: _TokenBytes) -> frozenset[int]:
    """Ids whose text is a non-empty piece of ``" \\t0123456789"``: they count with weight 0.

    Cached per tokenizer object because it looks at every token once. Unlike the oracle, a token
    that decodes to nothing is not exempt (``'' in s`` is true in Python, which is an accident there).
    """
    try:
        return _exempt_cache[tokenizer]
    except KeyError:
        pass
    except TypeError:  # neither hashable nor weak-referenceable: compute, but do not cache
        return _scan_exempt(tokenizer)
    exempt = _scan_exempt(tokenizer)
    try:
        _exempt_cache[tokenizer] = exempt
    except TypeError:
        pass
    return exempt


def _scan_exempt(tokenizer: _TokenBytes) -> frozenset[int]:
    token_bytes = tokenizer.token_bytes
    return frozenset(i for i in range(tokenizer.vocab_size) if token_bytes(i) in _EXEMPT_PIECES)


class Sampler:
    """Draws tokens for one reply, remembering what it generated so it can penalise repeats.

    Sampling runs on the CPU whatever device made the logits (a GPU's row is copied once). Only a
    few tokens are ever changed by the settings (logit_bias, bans, the tokens generated so far), so
    they are kept as a short list of ids with what is added to each, and a step costs one pass over
    the vocabulary (an argmax when greedy) instead of one per rule. Occurrences decay lazily: they
    are stored divided by ``decay ** steps``, so recording a token touches one number, not the
    vocabulary. Greedy decoding reads the logits through NumPy, single-threaded: torch would wake
    its thread pool for every 65536-value operation, and on a busy CPU those workers then compete
    with the compiled kernels' own threads.
    """

    def __init__(self, settings: SamplerSettings, vocab_size: int, exempt_ids: frozenset[int] = frozenset()) -> None:
        if vocab_size <= 0:
            raise ValueError(f"vocab_size must be positive, got {vocab_size}")
        too_big = [t for t in settings.banned_tokens if t >= vocab_size]
        too_big += [t for t, _ in settings.logit_bias if t >= vocab_size]
        if too_big:
            raise ValueError(f"token ids {too_big} are outside the vocabulary of {vocab_size} tokens")
        if len(set(settings.banned_tokens)) == vocab_size:
            raise ValueError("every token is banned; nothing could ever be generated")
        self.settings = settings
        self.vocab_size = vocab_size
        self._exempt = frozenset(exempt_ids)
        fixed: dict[int, float] = {}
        for token, bias in settings.logit_bias:     # a token named twice gets both (as index_add did)
            fixed[token] = fixed.get(token, 0.0) + bias
        for token in settings.banned_tokens:
            fixed[token] = -math.inf
        self._fixed_ids = np.array(sorted(fixed), dtype=np.int64)
        self._fixed_deltas = np.array([fixed[t] for t in sorted(fixed)], dtype=np.float64)
        self._penalised = settings.presence_penalty != 0.0 or settings.frequency_penalty != 0.0
        # Generated tokens in order of first appearance: slot i holds _ids[i]; _occ[i] is its occurrence
        # divided by _scale (the decay since the start); every seen token carries the presence penalty.
        self._slot: dict[int, int] = {}
        self._ids = np.zeros(16, dtype=np.int64)
        self._occ = np.zeros(16, dtype=np.float64)
        self._scale = 1.0
        self._changes: tuple[np.ndarray, np.ndarray] | None = None     # cached for the next step
        # Always a CPU generator: the draw happens on CPU, so a seed means the same on every device.
        self._generator = torch.Generator()
        self._seed()

    def sample(self, logits: torch.Tensor) -> int:
        """Draw the next token id. The caller's tensor is left untouched.

        One uniform number from the sampler's generator picks a token by inverse CDF. This costs
        one cumulative sum; ``torch.multinomial`` draws an exponential number per candidate, which is
        ~50x slower when top-p keeps tens of thousands of tokens.
        """
        x = self._logits(logits)
        if self._greedy:
            return self._argmax(x)
        ids, probs = self._support(x)
        if len(ids) == 1:
            return int(ids[0])
        cumulative = torch.cumsum(probs, dim=0)
        u = torch.rand(1, dtype=torch.float64, generator=self._generator) * cumulative[-1]
        # right=True skips tokens whose probability underflowed to 0 in the temperature step.
        pick = min(int(torch.searchsorted(cumulative, u, right=True)), len(ids) - 1)
        return int(ids[pick])

    def accept(self, token_id: int) -> None:
        """Record a generated token: decay every occurrence, then count this one (0 if exempt)."""
        if not 0 <= token_id < self.vocab_size:
            raise ValueError(f"token id {token_id} is outside the vocabulary of {self.vocab_size} tokens")
        decay = self.settings.penalty_decay
        if decay != 1.0:
            self._scale *= decay
            if self._scale < 1e-200:        # fold the decay into the stored values before it underflows
                n = len(self._slot)
                self._occ[:n] *= self._scale
                self._scale = 1.0
        slot = self._slot.get(token_id)
        if slot is None:
            slot = self._slot[token_id] = len(self._slot)
            if slot == len(self._ids):
                self._ids = np.concatenate([self._ids, np.zeros_like(self._ids)])
                self._occ = np.concatenate([self._occ, np.zeros_like(self._occ)])
            self._ids[slot] = token_id
        if token_id not in self._exempt:
            self._occ[slot] += 1.0 / self._scale
        self._changes = None

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """The distribution ``sample`` would draw from, as float64 on CPU (zero outside the support).

        For tests and for showing "token probabilities" in the UI; it does not advance the RNG.
        """
        x = self._logits(logits)
        full = torch.zeros(self.vocab_size, dtype=torch.float64)
        if self._greedy:
            full[self._argmax(x)] = 1.0
        else:
            ids, probs = self._support(x)
            full[ids] = probs
        return full

    def reset(self) -> None:
        """Start a new reply: forget occurrences and re-seed, so a seeded reply can be replayed."""
        self._slot.clear()
        self._occ[:] = 0.0
        self._scale = 1.0
        self._changes = None
        self._seed()

    def _seed(self) -> None:
        if self.settings.seed is None:
            self._generator.seed()
        else:
            self._generator.manual_seed(self.settings.seed)

    @property
    def _greedy(self) -> bool:
        return self.settings.temperature == 0.0 or self.settings.top_p == 0.0

    def _logits(self, logits: torch.Tensor) -> np.ndarray:
        """The caller's logits as a float32 NumPy array on the CPU (a view when they already are)."""
        if logits.dim() != 1 or logits.shape[0] != self.vocab_size:
            raise ValueError(
                f"expected 1-D logits of {self.vocab_size} values, got shape {tuple(logits.shape)}"
            )
        return logits.detach().to(device="cpu", dtype=torch.float32).numpy()

    def _changed(self) -> tuple[np.ndarray, np.ndarray]:
        """The ids whose logits the settings and the reply so far change, and what is added to each
        (float64; ``-inf`` for a ban), ids ascending. NumPy over the generated tokens, no Python loop."""
        if self._changes is None:
            ids, deltas = self._fixed_ids, self._fixed_deltas
            n = len(self._slot)
            if self._penalised and n:
                s = self.settings
                seen = self._ids[:n]
                penalty = s.presence_penalty + s.frequency_penalty * self._scale * self._occ[:n]
                ids, where = np.unique(np.concatenate([ids, seen]), return_inverse=True)
                summed = np.zeros(len(ids))
                np.add.at(summed, where, np.concatenate([deltas, -penalty]))
                deltas = summed
            self._changes = ids, deltas
        return self._changes

    def _adjusted(self, x: np.ndarray, ids: np.ndarray, deltas: np.ndarray) -> np.ndarray:
        """The logits at ``ids`` after the changes, float32 like the logits."""
        with np.errstate(invalid="ignore"):     # NaN logits stay NaN; they are refused later
            return (x[ids].astype(np.float64) + deltas).astype(np.float32)

    def _argmax(self, x: np.ndarray) -> int:
        """Greedy: the first maximum of the adjusted logits (ties go to the lowest id), from one pass
        over the vocabulary. NaN counts as the largest value (NumPy's rule), so NaN logits are refused."""
        best = int(np.argmax(x))
        ids, deltas = self._changed()
        if len(ids):
            changed = self._adjusted(x, ids, deltas)
            if ids[min(int(np.searchsorted(ids, best)), len(ids) - 1)] == best:
                y = x.copy()                    # the maximum itself changed: look again over a copy
                y[ids] = changed
                best = int(np.argmax(y))
                value = y[best]
            else:                               # the best unchanged token against the changed ones
                value = x[best]
                j = int(np.argmax(changed))
                if changed[j] > value or (changed[j] == value and ids[j] < best) or math.isnan(changed[j]):
                    best, value = int(ids[j]), changed[j]
        else:
            value = x[best]
        if not math.isfinite(float(value)):
            raise ValueError("no token can be drawn: the logits are NaN or every token is -inf")
        return best

    def _support(self, x: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """The token ids that may be drawn and their final probabilities (both on CPU, float64)."""
        s = self.settings
        ids, deltas = self._changed()
        if len(ids):
            x = x.copy()
            x[ids] = self._adjusted(x, ids, deltas)
        # Softmax in float32 by torch, as the oracle does, so ties and cutoffs agree (one row: torch
        # does it on this thread); the passes over the vocabulary after it are NumPy's (see the class).
        probs = torch.softmax(torch.from_numpy(x), dim=-1)
        pn = probs.numpy()
        if not math.isfinite(float(pn.sum())):
            raise ValueError("no token can be drawn: the logits are NaN or every token is -inf")
        cutoff = self._top_p_cutoff(probs)
        keep = pn > 0 if cutoff <= 0.0 else pn >= cutoff
        top_k = s.top_k if 0 < s.top_k < self.vocab_size else 0
        if top_k:
            keep &= pn >= float(torch.topk(probs, top_k).values[-1])
        kept_ids = np.flatnonzero(keep)
        kept = pn[kept_ids]
        if top_k and len(kept_ids) > top_k:  # ties at the k-th probability: lower ids win
            order = np.argsort(-kept, kind="stable")[:top_k]
            kept_ids, kept = kept_ids[order], kept[order]

        p = torch.from_numpy(kept.astype(np.float64))
        if s.temperature != 1.0:
            # p ** (1/T), in log space so that a small T cannot underflow everything to 0.
            log_p = p.log() / s.temperature
            p = torch.exp(log_p - log_p.max())
        return torch.from_numpy(kept_ids), p / p.sum()

    def _top_p_cutoff(self, probs: torch.Tensor) -> float:
        """Probability of the first token where the descending cumulative sum reaches top_p; 0 = keep all.

        Uses a growing ``topk`` rather than a full sort: a sort of 65536 values costs about 5 ms on CPU,
        while the top-p mass of a real model's distribution is almost always in the first few tokens.
        """
        top_p = self.settings.top_p
        if top_p >= 1.0:
            return 0.0
        k = min(_TOP_P_FIRST_GUESS, self.vocab_size)
        while True:
            head = torch.topk(probs, k).values
            cumulative = torch.cumsum(head.to(torch.float64), dim=0)
            i = int(torch.searchsorted(cumulative, top_p))
            if i < k:
                return float(head[i])
            if k == self.vocab_size:  # rounding kept the sum just short of top_p: keep everything
                return 0.0
            k *= _TOP_P_GROWTH
            if 4 * k >= self.vocab_size:
                k = self.vocab_size
