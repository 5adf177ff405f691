"""The OpenAI protocol, read side: a request's JSON body checked and turned into what the engine
service needs (prompt segments, sampler settings, stops, limits).

Reading is lenient where OpenAI's clients differ (fields the server does not know are ignored,
``null`` means "not given", a message's content may be a string or a list of text parts) and
strict where a silent guess would give a wrong answer: a value out of range, ``n`` > 1, a part
that is not text, a token id outside the vocabulary, a message without content (as OpenAI), text
that is not valid Unicode. Every refusal is an :class:`ApiError` that says which field was wrong.

Sampling fields a request leaves out take the app's default preset (RWKV Runner's settings, what
RWKV models are usually run with), not OpenAI's ``top_p=1``, which makes a small RWKV ramble.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, replace
from typing import Any

from engine.service.named_states import UnknownStateError, check_name
from engine.service.views import DEFAULT_PRESET, ModelView
from engine.text.chat import SEPARATOR, THINK_MODES, render_messages
from engine.text.sampling import PRESETS, SamplerSettings

MAX_STOPS = 4                       # as OpenAI
DEFAULT_COMPLETION_TOKENS = 16      # /v1/completions without max_tokens, as OpenAI
# OpenAI's reasoning_effort, as the G1 think modes that come closest.
REASONING_EFFORT = {"none": "no-think", "minimal": "no-think", "low": "think a bit", "medium": "think",
                    "high": "think a lot", "xhigh": "think a lot"}
SURROGATE = re.compile("[\ud800-\udfff]")    # left in a string by a JSON "\\ud800" escape without its pair
SHOWN_CHARS = 40                    # of a wrong value, quoted in its error


class ApiError(Exception):
    """A request the server answers with an OpenAI error object and ``status``."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error", code: str | None = None,
                 param: str | None = None):
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.param = status, message, type, code, param

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def bad(param: str, message: str, code: str | None = "invalid_value") -> ApiError:
    return ApiError(400, message, code=code, param=param)


def crash_error(exc: BaseException) -> ApiError:
    """The 500 a request gets when the server itself failed (a bug): what the request log records too."""
    return ApiError(500, f"The server failed: {type(exc).__name__}: {exc}", type="server_error", code="internal_error")


def check_text(body: Any) -> None:
    """Refuse a body whose strings are not valid Unicode: JSON lets a string hold half of a UTF-16
    surrogate pair ("\\ud800" alone), which no text can hold; it would fail later, in the tokenizer
    or when an answer quoting it is written. The walk is iterative (the body may nest deeply) and in
    the body's order, so the first bad field is the one named."""
    todo: list[tuple[str, Any]] = [("", body)]
    while todo:
        where, value = todo.pop()
        if isinstance(value, str):
            found = SURROGATE.search(value)
            if found:
                raise _not_unicode(where, f"'{where}'" if where else "The request body", found)
        elif isinstance(value, dict):
            for key in value:
                found = SURROGATE.search(key)
                if found:
                    raise _not_unicode(where, f"A key of '{where}'" if where else "A key of the request body", found)
            todo.extend((f"{where}.{key}" if where else key, item) for key, item in reversed(value.items()))
        elif isinstance(value, list):
            todo.extend((f"{where}[{i}]", item) for i, item in reversed(list(enumerate(value))))


def _not_unicode(param: str, what: str, found: re.Match) -> ApiError:
    return bad(param, f"{what} holds invalid Unicode: an unpaired surrogate (\\u{ord(found.group()):04x}) at "
                      f"character {found.start()}. A character above U+FFFF is escaped as a pair "
                      "(\\ud83d\\ude00), or sent as UTF-8.", "invalid_unicode")


@dataclass(frozen=True)
class Limits:
    max_tokens_cap: int


@dataclass(frozen=True)
class Parsed:
    """A checked request: what to ask the engine and how to answer."""

    chat: bool                      # /v1/chat/completions (else /v1/completions)
    prompt: tuple[str, ...]         # segments (a chat: one per message)
    sampler: SamplerSettings
    max_tokens: int
    stop: tuple[str, ...]           # the engine's stops (a chat's turn separator included)
    stream: bool = False
    include_usage: bool = False
    start: str | None = None        # `state`: a named state to begin from
    save_as: str | None = None      # `save_state`
    reply_prefix: str = ""          # text of the reply that the prompt already holds (a think prefix)
    strip_space: bool = False       # the reply follows "Assistant:": its leading space is not shown


def parse_chat(body: Any, model: ModelView, limits: Limits, named: list[str]) -> Parsed:
    body = _object(body)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad("messages", "'messages' must be a non-empty list of {role, content} objects.", "missing_messages")
    pairs = [_message(m, i) for i, m in enumerate(messages)]
    think = _think(body)
    segments = render_messages(model.template, pairs, think=think)
    continues = pairs[-1][0] == "assistant"         # the last reply is continued, not answered
    prefix = "" if continues else THINK_MODES[think][1].lstrip()
    parsed = _common(body, model, limits, named, default_max=limits.max_tokens_cap, chat=True)
    return replace(parsed, prompt=tuple(segments), stop=(SEPARATOR, *parsed.stop), reply_prefix=prefix,
                   strip_space=not continues)


def parse_completion(body: Any, model: ModelView, limits: Limits, named: list[str]) -> Parsed:
    body = _object(body)
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if prompt is None:
        prompt = ""
    if not isinstance(prompt, str):
        raise bad("prompt", "'prompt' must be a string (several prompts at once, or token ids, are not supported).")
    if body.get("echo"):
        raise bad("echo", "'echo' is not supported by this server.", "unsupported_parameter")
    if body.get("suffix"):
        raise bad("suffix", "'suffix' (insertion) is not supported by this server.", "unsupported_parameter")
    if _optional_int(body, "best_of", 1, 1 << 30) not in (None, 1):
        raise bad("best_of", "Only best_of = 1 is supported: one reply per request.", "unsupported_parameter")
    parsed = _common(body, model, limits, named, default_max=DEFAULT_COMPLETION_TOKENS, chat=False)
    return replace(parsed, prompt=(prompt,))


def check_model(body: Any, model: ModelView | None) -> ModelView:
    """The loaded model, if the request may use it: 503 without one, 404 for a request that names
    another (a request that names none gets the loaded one)."""
    if model is None:
        raise ApiError(503, "No model is loaded; load one in the app (or start the server with --model).",
                       type="server_error", code="model_not_loaded")
    name = body.get("model") if isinstance(body, dict) else None
    if name is not None and name != model.name:
        raise ApiError(404, f"The model '{name}' does not exist here; this server runs '{model.name}'.",
                       code="model_not_found", param="model")
    return model


# -- the parts ---------------------------------------------------------------------------------------


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad("", "The request body must be a JSON object.", "invalid_json")
    return body


def _message(m: Any, i: int) -> tuple[str, str]:
    where = f"messages[{i}]"
    if not isinstance(m, dict):
        raise bad(where, f"{where} must be an object with 'role' and 'content'.")
    role = m.get("role")
    if not isinstance(role, str) or not role:
        raise bad(f"{where}.role", f"{where}.role must be a string ('system', 'user' or 'assistant').")
    content = m.get("content")
    if content is None:
        # As OpenAI: only an assistant's message that carries tool calls may go without content.
        if role == "assistant" and (m.get("tool_calls") or m.get("function_call")):
            return role, ""
        unless = " unless it carries tool_calls" if role == "assistant" else ""
        raise bad(f"{where}.content", f"Missing required parameter: '{where}.content' (a message with role "
                                      f"'{role}' needs content{unless}: a string or a list of text parts).",
                  "missing_required_parameter")
    if isinstance(content, str):
        return role, content
    if not isinstance(content, list):
        raise bad(f"{where}.content", f"{where}.content must be a string or a list of text parts.")
    texts = []
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind != "text" or not isinstance(part.get("text"), str):
            raise bad(f"{where}.content[{j}]", f"{where}.content[{j}]: only text parts ({{\"type\": \"text\", "
                      f"\"text\": ...}}) are supported, not {kind or type(part).__name__!r}.",
                      "unsupported_content")
        texts.append(part["text"])
    return role, "\n".join(texts)


def _think(body: dict[str, Any]) -> str:
    think = body.get("think")
    if think is not None:
        if isinstance(think, bool):
            return "think" if think else "off"
        if think not in THINK_MODES:
            raise bad("think", f"'think' must be one of {', '.join(THINK_MODES)}.")
        return think
    effort = body.get("reasoning_effort")
    if effort is None:
        return "off"
    if effort not in REASONING_EFFORT:
        raise bad("reasoning_effort", f"'reasoning_effort' must be one of {', '.join(REASONING_EFFORT)}.")
    return REASONING_EFFORT[effort]


def _common(body: dict[str, Any], model: ModelView, limits: Limits, named: list[str], *, default_max: int,
            chat: bool) -> Parsed:
    n = _optional_int(body, "n", 1, 1 << 30)
    if n not in (None, 1):
        raise bad("n", "Only n = 1 is supported: one reply per request (send several requests instead).",
                  "unsupported_parameter")
    if body.get("logprobs") or body.get("top_logprobs"):
        raise bad("logprobs", "'logprobs' is not supported by this server.", "unsupported_parameter")
    max_tokens = _optional_int(body, "max_completion_tokens", 1, None)
    if max_tokens is None:
        max_tokens = _optional_int(body, "max_tokens", 1, None)
    if max_tokens is not None and max_tokens > limits.max_tokens_cap:
        raise bad("max_tokens", f"max_tokens is too large: {max_tokens}. This server allows at most "
                                f"{limits.max_tokens_cap} tokens per reply.")
    stream = _optional_bool(body, "stream") or False
    options = body.get("stream_options")
    include_usage = stream and isinstance(options, dict) and bool(options.get("include_usage"))
    return Parsed(chat=chat, prompt=(), sampler=_sampler(body, model), stop=_stops(body),
                  max_tokens=min(max_tokens or default_max, limits.max_tokens_cap), stream=stream,
                  include_usage=include_usage, start=_state_name(body, "state", named),
                  save_as=_state_name(body, "save_state", None))


def _sampler(body: dict[str, Any], model: ModelView) -> SamplerSettings:
    given: dict[str, Any] = {}
    for name, lo, hi in (("temperature", 0.0, 2.0), ("top_p", 0.0, 1.0), ("presence_penalty", -2.0, 2.0),
                         ("frequency_penalty", -2.0, 2.0)):
        value = _optional_number(body, name, lo, hi)
        if value is not None:
            given[name] = value
    top_k = _optional_int(body, "top_k", 0, None)
    if top_k is not None:
        given["top_k"] = top_k
    decay = _optional_number(body, "penalty_decay", 0.0, 1.0)
    if decay is not None:
        if decay <= 0:
            raise bad("penalty_decay", "'penalty_decay' must be above 0 and at most 1.")
        given["penalty_decay"] = decay
    seed = _optional_int(body, "seed", -(1 << 63), (1 << 64) - 1)
    if seed is not None:
        given["seed"] = seed % (1 << 64)
    bias = body.get("logit_bias")
    if bias is not None:
        given["logit_bias"] = _logit_bias(bias, model.vocab_size)
    return replace(PRESETS[DEFAULT_PRESET], **given)


def _logit_bias(bias: Any, vocab_size: int) -> tuple[tuple[int, float], ...]:
    if not isinstance(bias, dict):
        raise bad("logit_bias", "'logit_bias' must be an object mapping token ids to biases from -100 to 100.")
    out = []
    for key, value in bias.items():
        try:
            token = int(key)
        except (TypeError, ValueError):
            raise bad("logit_bias", f"logit_bias: {_shown(key)} is not a token id.") from None
        if not 0 <= token < vocab_size:
            raise bad("logit_bias", f"logit_bias: token {token} is not in the vocabulary (0 to {vocab_size - 1}).")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not -100 <= value <= 100:
            raise bad("logit_bias", f"logit_bias: the bias of token {token} must be a number from -100 to 100.")
        out.append((token, float(value)))
    return tuple(out)


def _stops(body: dict[str, Any]) -> tuple[str, ...]:
    stop = body.get("stop")
    if stop is None:
        return ()
    stops = [stop] if isinstance(stop, str) else stop
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
        raise bad("stop", "'stop' must be a string or a list of strings.")
    if len(stops) > MAX_STOPS:
        raise bad("stop", f"'stop' may hold at most {MAX_STOPS} strings.")
    return tuple(s for s in stops if s)


def _state_name(body: dict[str, Any], field: str, known: list[str] | None) -> str | None:
    name = body.get(field)
    if name is None:
        return None
    try:
        check_name(name)
    except UnknownStateError as e:
        raise bad(field, str(e), "invalid_state_name") from None
    if known is not None and name not in known:
        raise bad(field, f"There is no state named '{name}' (known: {', '.join(known) or 'none'}).",
                  "state_not_found")
    return name


def _optional_number(body: dict[str, Any], name: str, lo: float, hi: float) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not lo <= value <= hi:
        raise bad(name, f"'{name}' must be a number from {lo:g} to {hi:g}, got {_shown(value)}.")
    return float(value)


def _optional_int(body: dict[str, Any], name: str, lo: int, hi: int | None) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < lo or (hi is not None and value > hi):
        bounds = f"at least {lo}" if hi is None else f"from {lo} to {hi}"
        raise bad(name, f"'{name}' must be a whole number {bounds}, got {_shown(value)}.")
    return value


def _optional_bool(body: dict[str, Any], name: str) -> bool | None:
    value = body.get(name)
    if value is None or isinstance(value, bool):
        return value
    raise bad(name, f"'{name}' must be true or false, got {_shown(value)}.")


def _shown(value: Any) -> str:
    """A wrong value as the client wrote it (JSON: true, null, "text"), cut short; an array or an
    object only by its kind (it may be huge, or nested deeper than json.dumps goes)."""
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS - 1] + "…"


__all__ = ["ApiError", "Limits", "Parsed", "check_model", "check_text", "crash_error", "parse_chat",
           "parse_completion"]
