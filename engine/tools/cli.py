"""``python -m engine``: the engine without the window (info, generate, chat, serve, bench, quality)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial

from engine.errors import EngineError
from engine.tools.args import PRECISION_HELP, number, path_to, whole_number
from engine.tools.serve import add_parser as add_serve_parser

# engine.text.chat.TEMPLATES' and THINK_MODES' and engine.text.sampling.PRESETS' names, spelled out so that
# --help needs no torch import; a test keeps them equal.
TEMPLATE_NAMES = ("world", "raven")
THINK_MODE_NAMES = ("off", "think", "no-think", "think a bit", "think a lot")
PRESET_NAMES = ("Balanced", "Creative", "Precise", "RWKV Runner")
SAMPLER_FLAGS = ("temperature", "top_p", "top_k", "presence_penalty", "frequency_penalty", "penalty_decay",
                 "seed")
INTERRUPTED = 130           # the shell's status for a command ended by Ctrl+C (128 + SIGINT)


def _add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", "-m", required=True,
                   help="model file (.pth / .safetensors), Hugging Face model folder, or bundled name")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (default: cpu)")
    p.add_argument("--precision", default="auto", help=PRECISION_HELP)
    p.add_argument("--tokenizer", default=None,
                   help="'world', '20b' or a tokenizer.json path (default: the model folder's tokenizer.json, "
                        "else chosen from the vocabulary size)")


def _add_sampler_args(p: argparse.ArgumentParser) -> None:
    # The ranges are the server's (engine.server.protocol), so a setting that works here works there.
    p.add_argument("--preset", choices=PRESET_NAMES, default=None, metavar="NAME",
                   help="sampler settings the options below change: Balanced, Creative, Precise or 'RWKV Runner' "
                        "(default: RWKV Runner's)")
    p.add_argument("--temperature", type=number(0, 2), help="0 to 2; 0: always the likeliest token")
    p.add_argument("--top-p", type=number(0, 1), help="0 to 1: only the likeliest tokens that reach this probability")
    p.add_argument("--top-k", type=whole_number(0), help="only the k likeliest tokens (0: off)")
    p.add_argument("--presence-penalty", type=number(-2, 2), help="-2 to 2: lowers tokens that already appeared")
    p.add_argument("--frequency-penalty", type=number(-2, 2),
                   help="-2 to 2: lowers tokens by how often they appeared")
    p.add_argument("--penalty-decay", type=number(0, 1, above_lo=True),
                   help="above 0, at most 1: how fast the penalties fade, per token")
    p.add_argument("--seed", type=whole_number(-(1 << 63), (1 << 64) - 1), help="the same seed repeats a reply")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m engine", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("info", help="describe a model file")
    p.add_argument("model", help="model file (.pth / .safetensors), Hugging Face model folder, or bundled name "
                                 "(demo)")
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser("generate", help="continue a prompt")
    _add_model_args(p)
    _add_sampler_args(p)
    p.add_argument("--prompt", "-p", required=True)
    p.add_argument("--max-tokens", "-n", type=whole_number(1), default=200, help="the longest reply (default 200)")
    p.add_argument("--stop", action="append", default=[], help="stop string (repeatable)")
    p.add_argument("--state", type=path_to("state file"),
                   help="start from a saved state or a state-tuning file (.pth, Ai00 .state)")
    p.add_argument("--template", choices=("none", "auto", *TEMPLATE_NAMES), default="none",
                   help="none (default): continue the prompt as text; auto or a template name: ask it as one "
                        "chat turn in that template and stop at the end of the reply")

    p = sub.add_parser("chat", help="chat in the terminal (streaming); /help inside for commands")
    _add_model_args(p)
    _add_sampler_args(p)
    p.add_argument("--system", help="system prompt")
    p.add_argument("--think", choices=THINK_MODE_NAMES, default="off", metavar="MODE",
                   help="think mode of RWKV-7 G0/G1 models: off (default), think, no-think, 'think a bit' or "
                        "'think a lot' (the last two: G1 models dated 2025-09-22 or later)")
    p.add_argument("--max-tokens", "-n", type=whole_number(1), default=1024,
                   help="the longest reply (default 1024)")
    p.add_argument("--state", type=path_to("state file"),
                   help="start from a saved state file or a state-tuning file (.pth, Ai00 .state)")
    p.add_argument("--template", choices=("auto", *TEMPLATE_NAMES), default="auto",
                   help="chat template: auto (Bob/Alice for RWKV-4 Pile/Raven, else User/Assistant), "
                        + ", ".join(TEMPLATE_NAMES))
    p.add_argument("--save-state", type=path_to("state file", exists=False),
                   help="save the conversation state here after every reply")

    add_serve_parser(sub)

    sub.add_parser("train", help="train an RWKV-7 from scratch (see: train --help)", add_help=False)

    p = sub.add_parser("bench", help="measure prefill and decode speed, memory, state save/load")
    _add_model_args(p)
    p.add_argument("--prompt-tokens", type=whole_number(1), default=512)
    p.add_argument("--decode-tokens", type=whole_number(1), default=64)
    p.add_argument("--contexts", default="", help="also time decoding after these context lengths, e.g. 1k,4k")
    p.add_argument("--repeat", type=whole_number(1), default=3)
    p.add_argument("--threads", type=whole_number(0), default=0, help="torch threads (default: torch's choice)")
    p.add_argument("--oracle", action="store_true",
                   help="also time BlinkDL's rwkv package on the same .pth (test extra needed)")
    p.add_argument("--concurrency", default="",
                   help="instead: decode N streams at once, e.g. 1,2,4,8,16 (aggregate and per-stream tok/s, "
                        "time to first token of a new prompt among them, peak RSS)")
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser("quality", help="compare int8 / q5 / q4 / bf16 predictions with fp32 on held-out text")
    p.add_argument("--model", "-m", required=True,
                   help="model file (.pth / .safetensors), Hugging Face model folder, or bundled name")
    p.add_argument("--precision", default="int8,q5,q4,bf16",
                   help="comma list compared with fp32 (default: int8,q5,q4,bf16)")
    p.add_argument("--text", help="held-out text: .jsonl of {\"text\": ...} lines or plain text (default: the "
                                  "demo model's held-out chats, in a source checkout)")
    p.add_argument("--tokens", type=whole_number(1), default=512,
                   help="positions compared, from the start of the text")
    p.add_argument("--tokenizer", default=None, help="'world', '20b' or a tokenizer.json path (default: the model's)")
    p.add_argument("--threads", type=whole_number(0), default=0, help="torch threads (default: torch's choice)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def _settings(args: argparse.Namespace):
    from engine.text.sampling import PRESETS, SamplerSettings

    base = PRESETS[args.preset] if args.preset else SamplerSettings()
    given = {k: getattr(args, k) for k in SAMPLER_FLAGS if getattr(args, k) is not None}
    if "seed" in given:
        given["seed"] %= 1 << 64            # as the server: a negative seed wraps
    return SamplerSettings.from_dict({**base.to_dict(), **given})


def _load(args: argparse.Namespace):
    from engine.models.model import load
    from engine.text.tokenizer import tokenizer_for

    model = load(args.model, device=args.device, precision=args.precision)
    return model, tokenizer_for(model, args.tokenizer)


def _initial_state(path: str | None, model):
    """A saved state or a state-tuning file (official ``.pth``, Ai00 ``.state``, a ``.safetensors`` of
    ``time_state`` tensors): :meth:`State.from_tuning_file` takes them all, as the app's "Apply
    state-tuning file" does. A tuning file named for another generation is refused; a saved state
    says its generation inside, and that is checked instead."""
    from engine.models.state import State

    if not path:
        return None
    return State.from_tuning_file(path, model, check_name=True)


def _template(args: argparse.Namespace) -> str | None:
    return None if args.template == "auto" else args.template


def cmd_info(args: argparse.Namespace) -> int:
    from engine.models.model import load

    model = load(args.model)
    i = model.info
    data = {"path": str(i.path), "generation": i.generation, "layers": i.n_layer, "width": i.n_embd,
            "heads": i.n_head, "head_size": i.head_size, "vocab": i.vocab_size, "ffn": i.dim_ffn,
            "parameters": i.n_params, "file_dtype": i.file_dtype, "fingerprint": i.fingerprint,
            "state_bytes_fp32": model.new_state().nbytes}
    if args.json:
        print(json.dumps(data))
    else:
        print(f"{i.path.name}: {i.describe()}")
        print(f"  file dtype {i.file_dtype}, FFN width {i.dim_ffn}, fingerprint {i.fingerprint}")
        print(f"  state size {data['state_bytes_fp32'] / 2**20:.2f} MiB, whatever the length of the chat")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    """Print the continuation; Ctrl+C stops it between tokens, prints the stats, and exits 130."""
    from engine.text.generation import generate

    settings = _settings(args)
    model, tok = _load(args)
    cancel = threading.Event()
    if args.template != "none":
        _generate_turn(args, model, tok, settings, cancel)
    else:
        gen = generate(model, tok, args.prompt, state=_initial_state(args.state, model), settings=settings,
                       max_tokens=args.max_tokens, stop=args.stop, cancel=cancel)
        with _ctrl_c_sets(cancel):
            for piece in gen:
                sys.stdout.write(piece)
                sys.stdout.flush()
        s = gen.stats
        print(f"\n[{s.prompt_tokens} prompt tokens at {s.prefill_tps:.1f} tok/s, {s.generated_tokens} generated at "
              f"{s.decode_tps:.1f} tok/s; stop: {gen.stop_reason}]", file=sys.stderr)
    return INTERRUPTED if cancel.is_set() else 0


def _generate_turn(args: argparse.Namespace, model, tok, settings, cancel: threading.Event) -> None:
    """``--prompt`` as one user turn of a chat template; the reply alone is printed."""
    import time

    from engine.text.chat import ChatSession

    chat = ChatSession(model, tok, settings=settings, initial_state=_initial_state(args.state, model),
                       max_tokens=args.max_tokens, template=_template(args))
    t0 = time.perf_counter()
    with _ctrl_c_sets(cancel):
        for piece in chat.send(args.prompt, cancel=cancel):
            sys.stdout.write(piece)
            sys.stdout.flush()
    reply = chat.messages[chat.leaf()]
    seconds = time.perf_counter() - t0
    print(f"\n[{chat.template.name} template, {len(reply.tokens)} tokens generated in {seconds:.1f} s; "
          f"stop: {reply.stop_reason}]", file=sys.stderr)


CHAT_HELP = """Commands: /regen (new reply), /save FILE (save state), /reset (new chat), /quit.
Enter sends; a line that begins with // is sent with one / less. Ctrl+C stops a reply; at the prompt it quits."""


def _check_think(args: argparse.Namespace) -> None:
    """Refuse a think mode the model was not trained on, before loading it: such a model reads the think
    prefix as text and garbles its replies (the window greys Think out for it)."""
    if args.think == "off":
        return
    from engine.models.checkpoint import model_name, resolve
    from engine.models.file_info import inspect_file
    from engine.text.chat import trained_to_think

    path = resolve(args.model)
    name = model_name(path)
    if not trained_to_think(name, inspect_file(path).generation):
        raise EngineError(f"--think {args.think}: think modes are for RWKV-7 G0/G1 models; '{name}' "
                          "was not trained on them and would garble its replies. Leave --think out (or use off).")


def cmd_chat(args: argparse.Namespace) -> int:
    from engine.text.chat import ChatSession

    _check_think(args)
    settings = _settings(args)
    model, tok = _load(args)
    initial = _initial_state(args.state, model)

    def new_session() -> ChatSession:
        return ChatSession(model, tok, system=args.system, settings=settings, initial_state=initial,
                           max_tokens=args.max_tokens, template=_template(args))

    chat = new_session()
    t = chat.template
    print(f"{model.info.describe()}\n{t.name} template ({t.user} / {t.assistant})\n{CHAT_HELP}\n",
          file=sys.stderr)
    _line_editing()
    while True:
        try:
            line = input(f"{t.user}: ")
        except (EOFError, KeyboardInterrupt):
            print(file=sys.stderr)
            return 0
        cmd = line.strip()
        if not cmd:
            continue
        name, _, rest = cmd.partition(" ")
        if name in ("/quit", "/exit"):
            return 0
        if name == "/help":
            print(CHAT_HELP, file=sys.stderr)
            continue
        if name == "/reset":
            chat = new_session()
            print("[new chat: the conversation so far is forgotten]", file=sys.stderr)
            continue
        if name == "/save":
            _save(chat, rest.strip() or args.save_state)
            continue
        if cmd.startswith("//"):
            line = line.replace("/", "", 1)
        elif cmd.startswith("/") and name != "/regen":
            print(f"[Unknown command {name}; /help lists them. To send the line as a message, begin it with //]",
                  file=sys.stderr)
            continue
        cancel = threading.Event()
        start = (partial(chat.regenerate, cancel=cancel) if name == "/regen" else
                 partial(chat.send, line, think=args.think, cancel=cancel))
        if _stream_reply(start, cancel, t.assistant) and args.save_state:
            _save(chat, args.save_state)


def _line_editing() -> None:
    """Arrow keys and history at the chat prompt, so a line refused (an unknown command) is one Up away."""
    if sys.stdin.isatty():
        try:
            import readline  # noqa: F401  (input() uses it once imported)
        except ImportError:                 # Windows: the console keeps its own history
            pass


@contextmanager
def _ctrl_c_sets(cancel: threading.Event) -> Iterator[None]:
    """While a reply streams, Ctrl+C sets ``cancel`` (checked between tokens) instead of interrupting a
    forward pass half way, which would leave the state half updated and end in a traceback. Where
    Ctrl+C is ignored (``nohup``, a background job) it stays ignored."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        yield
        return
    previous = signal.signal(signal.SIGINT, lambda *_: cancel.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _stream_reply(start: Callable[[], Iterator[str]], cancel: threading.Event, assistant: str = "Assistant") -> bool:
    """Start a reply (``start``: a :class:`ChatSession` method's stream) and print it as it streams;
    Ctrl+C stops it (see :func:`_ctrl_c_sets`). An :class:`EngineError`, whether the session refuses
    the request when asked (``/regen`` with nothing to answer) or the reply fails on its way, is one
    line on stderr and the chat goes on. Whether a reply was begun (and so the state moved)."""
    try:
        stream = start()
    except EngineError as e:
        print(f"[{e}]", file=sys.stderr)
        return False
    sys.stdout.write(f"{assistant}: ")
    with _ctrl_c_sets(cancel):
        try:
            for piece in stream:
                sys.stdout.write(piece)
                sys.stdout.flush()
        except EngineError as e:
            print(f"\n[{e}]", file=sys.stderr)
    sys.stdout.write(" [stopped]\n\n" if cancel.is_set() else "\n\n")
    return True


def _save(chat, path: str | None) -> None:
    if not path:
        print("[give a file name: /save FILE]", file=sys.stderr)
        return
    if chat.leaf() == 0:
        print("[nothing to save yet]", file=sys.stderr)
        return
    try:
        chat.checkpoint(chat.leaf()).save(path, {"source": "engine chat"})
    except OSError as e:                    # the chat goes on: another file name may do
        print(f"[could not save the state to {path}: {e.strerror or e}]", file=sys.stderr)
        return
    print(f"[state saved to {path}]", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["train"]:       # the trainer owns its flags (argparse cannot pass them through)
        from engine.tools.train import main as train_main

        return train_main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        if args.command == "info":
            return cmd_info(args)
        if args.command == "generate":
            return cmd_generate(args)
        if args.command == "chat":
            return cmd_chat(args)
        if args.command == "serve":
            from engine.tools.serve import run_serve

            return run_serve(args)
        if args.command == "quality":
            from engine.tools.quality import run_quality

            return run_quality(args)
        from engine.tools.bench import run_bench

        return run_bench(args)
    except (EngineError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:       # Ctrl+C outside a streaming reply (loading, reading a prompt file)
        print("\n[interrupted]", file=sys.stderr)
        return INTERRUPTED
