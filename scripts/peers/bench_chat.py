"""Time to first token of a chat whose whole history is resent every turn, as every OpenAI client does.

Starts each server in turn on 127.0.0.1 and plays the same 10-turn chat against it (about 200
tokens a turn: a ~100-word user message and a reply of up to 100 tokens, greedy), resending the
whole history each turn, and times each turn from sending the request to the first streamed piece
of text. Servers:

- ``ours``: ``python -m engine serve`` with its state cache (``--state-cache-mb 512``);
- ``ours-nocache``: the same with the cache off (``--state-cache-mb 0``): every turn reads all;
- ``llama``: llama.cpp's ``llama-server`` (built by ``build_llama_cpp.sh``) on the GGUF converted
  from the same weights, 1 slot, ``cache_prompt`` on (its default).

    PY=.venv/bin/python
    $PY scripts/peers/bench_chat.py --shape 0.1b [--turns 10] [--servers ours,ours-nocache,llama]

Prints a table per turn (ms, and the prompt tokens the server says it read from a cache) and
the 10th turn's speed-up of the cache. Don't run anything else alongside it.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peer_dirs import LLAMA, MODELS  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
WORDS = ("the harbor ship wind sail boat sea port light tower keeper night storm wave rock shore bay anchor rope "
         "deck captain crew map star north south east west island cove tide sand gull fish net dock pier "
         "lantern fog bell channel reef current voyage journey home").split()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def user_message(turn: int, words: int = 100) -> str:
    rng = (turn * 7919 + 17) % 101
    return " ".join(WORDS[(rng + i * 13) % len(WORDS)] for i in range(words)) + "?"


def start(kind: str, args: argparse.Namespace, port: int, data: Path) -> subprocess.Popen:
    if kind.startswith("ours"):
        pth = args.models / f"rwkv7-{args.shape}-s{args.seed}.pth"
        cache = "0" if kind == "ours-nocache" else "512"
        cmd = [sys.executable, "-m", "engine", "serve", "--model", str(pth), "--port", str(port), "--data-dir",
               str(data), "--state-cache-mb", cache, "--precision", args.precision]
        env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    gguf = args.models / f"rwkv7-{args.shape}-s{args.seed}-{args.gguf_class}.gguf"
    cmd = [str(args.llama / "bin" / "llama-server"), "-m", str(gguf), "--host", "127.0.0.1", "--port", str(port),
           "-np", "1", "-t", str(args.threads), "-tb", str(args.threads), "-c", "8192"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


def wait_ready(base: str, proc: subprocess.Popen, timeout: float = 300) -> None:
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}")
        try:
            if httpx.get(f"{base}/v1/models", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit("server did not start")


def turn(client: httpx.Client, base: str, messages: list[dict], max_tokens: int) -> tuple[float, str, dict]:
    body = {"messages": messages, "max_tokens": max_tokens, "temperature": 0, "stream": True,
            "stream_options": {"include_usage": True}}
    t0 = time.perf_counter()
    first, text, usage = None, [], {}
    with client.stream("POST", f"{base}/v1/chat/completions", json=body, timeout=600,
                       headers={"Connection": "close"}) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            for choice in chunk.get("choices") or []:
                piece = (choice.get("delta") or {}).get("content")
                if piece:
                    first = first or time.perf_counter()
                    text.append(piece)
            usage = chunk.get("usage") or usage
    return ((first or time.perf_counter()) - t0) * 1e3, "".join(text), usage


def play(kind: str, args: argparse.Namespace) -> list[tuple[float, int, int]]:
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        proc = start(kind, args, port, Path(data))
        base = f"http://127.0.0.1:{port}"
        try:
            wait_ready(base, proc)
            out, messages = [], []
            with httpx.Client() as client:
                turn(client, base, [{"role": "user", "content": "warm up"}], 2)
                for i in range(args.turns):
                    messages.append({"role": "user", "content": user_message(i)})
                    ms, reply, usage = turn(client, base, messages, args.reply_tokens)
                    messages.append({"role": "assistant", "content": reply.strip()})
                    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
                    out.append((ms, usage.get("prompt_tokens", 0), cached))
            return out
        finally:
            stop(proc)


def add_model_arguments(ap: argparse.ArgumentParser) -> None:
    """The options both server benchmarks share: which random model, where, in which classes."""
    ap.add_argument("--shape", default="0.1b")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--models", type=Path, default=MODELS)
    ap.add_argument("--llama", type=Path, default=LLAMA)
    ap.add_argument("--gguf-class", default="f32")
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--threads", type=int, default=2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_model_arguments(ap)
    ap.add_argument("--turns", type=int, default=10)
    ap.add_argument("--reply-tokens", type=int, default=100)
    ap.add_argument("--servers", default="ours,ours-nocache,llama")
    args = ap.parse_args()
    results = {kind: play(kind, args) for kind in args.servers.split(",")}
    kinds = list(results)
    print("| turn | " + " | ".join(f"{k} TTFT ms (prompt / cached tok)" for k in kinds) + " |")
    print("|---|" + "---|" * len(kinds))
    for i in range(args.turns):
        cells = [f"{results[k][i][0]:.0f} ({results[k][i][1]} / {results[k][i][2]})" for k in kinds]
        print(f"| {i + 1} | " + " | ".join(cells) + " |")
    last = {k: results[k][-1][0] for k in kinds}
    if "ours" in last and "ours-nocache" in last:
        print(f"\nturn {args.turns}: the cache answers {last['ours-nocache'] / last['ours']:.1f}x sooner")
    if "ours" in last and "llama" in last:
        print(f"turn {args.turns}: ours with the cache vs llama-server: {last['llama'] / last['ours']:.1f}x sooner")


if __name__ == "__main__":
    main()
