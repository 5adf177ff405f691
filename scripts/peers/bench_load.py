"""Many clients at once: aggregate and per-stream decode speed of a server, ours against llama-server.

For each concurrency N, N clients each stream one completion at the same moment (a distinct
prompt of ~30 tokens, 128 tokens generated, greedy, end-of-text banned so every stream runs its
full length) from a server on 127.0.0.1, and the run is timed from the first request to the last
token. For each N both servers run side by side (idle while the other works) and ``--rounds`` rounds
alternate between them, the order flipped each round; cells are medians with the aggregate's range:

- ``ours``: ``python -m engine serve`` on the ``.pth`` (``--precision``, ``--max-running N``);
- ``llama``: llama.cpp's ``llama-server`` (built by ``build_llama_cpp.sh``) on the GGUF of the same
  weights (``--gguf-class``), ``-np N`` slots.

    PY=.venv/bin/python
    $PY scripts/peers/bench_load.py --shape 0.1b --precision fp32 --gguf-class f32 --concurrency 1,2,4,8,16

Prints one markdown table: aggregate tokens/s, median per-stream tokens/s (after its first token),
median time to first token, and each as a ratio to the same server's single stream. Don't run
anything else alongside it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_chat import WORDS, add_model_arguments, free_port, stop, wait_ready  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def prompt(seed: int) -> str:
    """A prompt of its own for every request of a run: llama-server keeps each slot's last prompt and
    would read a repeated one from that cache in the next round, which ours (``--state-cache-mb 0``)
    doesn't, so repeating prompts across rounds measured its cache, not its prompt processing."""
    return "Tell me about the " + " ".join(random.Random(seed).choices(WORDS, k=24)) + "."


def start(kind: str, args: argparse.Namespace, n: int, port: int, data: Path) -> subprocess.Popen:
    if kind == "ours":
        pth = args.models / f"rwkv7-{args.shape}-s{args.seed}.pth"
        cmd = [sys.executable, "-m", "engine", "serve", "--model", str(pth), "--port", str(port), "--data-dir",
               str(data), "--state-cache-mb", "0", "--precision", args.precision, "--max-running", str(n),
               "--max-queued", "0"]
        return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    gguf = args.models / f"rwkv7-{args.shape}-s{args.seed}-{args.gguf_class}.gguf"
    cmd = [str(args.llama / "bin" / "llama-server"), "-m", str(gguf), "--host", "127.0.0.1", "--port", str(port),
           "-np", str(n), "-t", str(args.threads), "-tb", str(args.threads), "-c", str(1024 * n),
           "--no-cache-prompt" if args.no_llama_cache else "--cache-prompt"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=(data / "llama-server.log").open("w"))


async def one(client: httpx.AsyncClient, base: str, seed: int, tokens: int,
              model: str) -> tuple[float, float, float, int]:
    """(start, first token, end, tokens) of one streamed completion."""
    body = {"model": model, "prompt": prompt(seed), "max_tokens": tokens, "temperature": 0, "stream": True,
            "logit_bias": {"0": -100}, "stream_options": {"include_usage": True}}
    t0 = time.perf_counter()
    first, pieces, usage = None, 0, {}
    async with client.stream("POST", f"{base}/v1/completions", json=body, timeout=600) as r:
        r.raise_for_status()
        async for line in r.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            for choice in chunk.get("choices") or []:
                if choice.get("text"):
                    first = first or time.perf_counter()
                    pieces += 1
            usage = chunk.get("usage") or usage
    return t0, first or time.perf_counter(), time.perf_counter(), usage.get("completion_tokens") or pieces


async def load(base: str, n: int, tokens: int, first_seed: int) -> dict:
    # A connection per request: llama-server at times closed a kept-alive connection just as the
    # next request went out on it ("Server disconnected without sending a response").
    limits = httpx.Limits(max_connections=n + 4, max_keepalive_connections=0)
    async with httpx.AsyncClient(limits=limits) as client:
        model = (await client.get(f"{base}/v1/models")).json()["data"][0]["id"]
        await asyncio.gather(*(one(client, base, first_seed + i, 8, model) for i in range(n)))   # warm up at N
        runs = await asyncio.gather(*(one(client, base, first_seed + n + i, tokens, model) for i in range(n)))
    begin, end = min(r[0] for r in runs), max(r[2] for r in runs)
    total = sum(r[3] for r in runs)
    return {"aggregate": total / (end - begin),
            "per_stream": statistics.median((r[3] - 1) / max(1e-9, r[2] - r[1]) for r in runs),
            "ttft_ms": statistics.median((r[1] - r[0]) * 1e3 for r in runs), "tokens": total}


def measure(kinds: list[str], args: argparse.Namespace, levels: list[int]) -> dict[str, dict[int, dict]]:
    """Every server started for each N, then ``--rounds`` rounds with the servers taking turns
    (the order flips each round), so a swing in the machine's speed hits them alike; medians."""
    out: dict[str, dict[int, dict]] = {k: {} for k in kinds}
    for n in levels:
        with tempfile.TemporaryDirectory() as data:
            procs, bases = {}, {}
            try:
                for kind in kinds:
                    port = free_port()
                    (Path(data) / kind).mkdir()
                    procs[kind] = start(kind, args, n, port, Path(data) / kind)
                    bases[kind] = f"http://127.0.0.1:{port}"
                    wait_ready(bases[kind], procs[kind])
                runs: dict[str, list[dict]] = {k: [] for k in kinds}
                for r in range(args.rounds):
                    for kind in (kinds if r % 2 == 0 else kinds[::-1]):
                        seed = (2 * r + 1) * 1000 * n   # fresh prompts each round, the same for both
                        runs[kind].append(asyncio.run(load(bases[kind], n, args.tokens, seed)))
                        print(f"{kind} N={n} round {r}: {runs[kind][-1]}", file=sys.stderr, flush=True)
            except httpx.HTTPError:
                log = Path(data) / "llama" / "llama-server.log"
                if log.exists():   # what llama-server said last, when it is the one that went away
                    print("llama-server's last words:\n" + "\n".join(log.read_text().splitlines()[-15:]),
                          file=sys.stderr)
                raise
            finally:
                for proc in procs.values():
                    stop(proc)
        for kind in kinds:
            out[kind][n] = {key: statistics.median(run[key] for run in runs[kind])
                            for key in ("aggregate", "per_stream", "ttft_ms", "tokens")}
            out[kind][n]["spread"] = (min(run["aggregate"] for run in runs[kind]),
                                      max(run["aggregate"] for run in runs[kind]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_model_arguments(ap)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--concurrency", default="1,2,4,8,16")
    ap.add_argument("--servers", default="ours,llama")
    ap.add_argument("--no-llama-cache", action="store_true")
    ap.add_argument("--rounds", type=int, default=3, help="rounds per N, the servers taking turns")
    args = ap.parse_args()
    levels = [int(x) for x in args.concurrency.split(",")]
    results = measure(args.servers.split(","), args, levels)
    print("| N | " + " | ".join(f"{k} aggregate tok/s (x N=1) | {k} per stream (x) | {k} TTFT ms"
                                 for k in results) + " |")
    print("|---|" + "---|---|---|" * len(results))
    for n in levels:
        cells = []
        for r in results.values():
            base = r[levels[0]]
            lo, hi = r[n]["spread"]
            cells += [f"{r[n]['aggregate']:.1f} [{lo:.0f}-{hi:.0f}] ({r[n]['aggregate'] / base['aggregate']:.2f}x)",
                      f"{r[n]['per_stream']:.1f} ({r[n]['per_stream'] / base['per_stream']:.2f}x)",
                      f"{r[n]['ttft_ms']:.0f}"]
        print(f"| {n} | " + " | ".join(cells) + " |")
    if "ours" in results and "llama" in results:
        for n in levels:
            print(f"N={n}: ours / llama-server aggregate = "
                  f"{results['ours'][n]['aggregate'] / results['llama'][n]['aggregate']:.2f}x")


if __name__ == "__main__":
    main()
