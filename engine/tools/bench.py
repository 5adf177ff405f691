"""``python -m engine bench``: comparable numbers for one model on one device, in the same rows every time.

Prefill is one forward call over a prompt of random tokens (the parallel form); decode is the
median time of single-token forward calls (the RNN form), reported as tokens/s. ``--contexts``
decodes again after the state has read 1k, 4k, ... tokens, to show that time per token and memory
stay flat (each context row has its own peak RSS). ``--oracle`` runs BlinkDL's ``rwkv`` package on
the same file in a subprocess, in the same run, so the ratio is measured rather than remembered.
The decode speed is also given as a share of this machine's ceiling, measured in the same run: the
read bandwidth (fastest of several sums over 1 GiB, as machine_limits.py) divided by the matrix bytes read per token.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from engine.host.hardware import BYTES_PER_PARAM


def _rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak_rss() -> None:
    """Start a new peak-RSS window (Linux: writing 5 to clear_refs resets VmHWM)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def _window_peak_rss_mib() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def read_bandwidth_gbps(mib: int = 1024, runs: int = 5) -> float:
    """DRAM read bandwidth now: the fastest of ``runs`` sums over a buffer far beyond any cache."""
    big = torch.ones(mib * 2**20 // 4)
    big.sum()
    best = min(_timed(big.sum) for _ in range(runs))
    return big.numel() * 4 / best / 1e9


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


SMALL_BYTES = {"q4": 1, "q5": 1}   # the block formats keep their LoRAs and head in int8


def matrix_bytes_per_token(model) -> int:
    """Weights every decoded token reads (as machine_limits counts them): every layer's matrices and
    LoRAs, and the head; not the embedding row."""
    i = model.info
    loras = sum(max(32, round(m * i.n_embd**0.5 / 32) * 32) for m in (2.5, 2.5, 1.7, 5.0))
    linear = i.n_layer * (4 * i.n_embd**2 + 2 * i.n_embd * i.dim_ffn)
    small = i.n_layer * 2 * i.n_embd * loras + i.vocab_size * i.n_embd
    per = BYTES_PER_PARAM.get(model.precision, 4)
    return int(linear * per + small * SMALL_BYTES.get(model.precision, per))


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _parse_contexts(text: str) -> list[int]:
    out = []
    for part in filter(None, (p.strip().lower() for p in text.split(","))):
        out.append(int(float(part[:-1]) * 1024) if part.endswith("k") else int(part))
    return out


def measure(model, prompt_tokens: int, decode_tokens: int, repeat: int, contexts: list[int]) -> dict:
    from engine.models.state import State

    g = torch.Generator().manual_seed(0)
    V = model.info.vocab_size
    prompt = torch.randint(1, V, (prompt_tokens,), generator=g).tolist()
    sync = torch.cuda.synchronize if model.device.type == "cuda" else (lambda: None)

    prefill = []
    for _ in range(repeat):
        state = model.new_state()
        sync()
        t = time.perf_counter()
        logits, _ = model.forward(prompt, state)
        int(logits.argmax())
        sync()
        prefill.append(time.perf_counter() - t)

    def decode_run(state: State, n: int) -> list[float]:
        times, tok = [], int(state.last_logits.argmax()) if state.last_logits is not None else 1
        for _ in range(n):
            t = time.perf_counter()
            logits, _ = model.forward([tok], state)
            tok = int(logits.argmax())
            times.append(time.perf_counter() - t)
        return times

    state = model.new_state()
    model.forward(prompt[:16], state)
    decode_run(state, 3)  # warm-up
    decode = decode_run(state, decode_tokens)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "state.safetensors"
        t = time.perf_counter()
        state.save(path)
        save_s = time.perf_counter() - t
        t = time.perf_counter()
        State.load(path, model)
        load_s = time.perf_counter() - t

    peak_before_contexts = _peak_rss_mib()   # the context rows reset the peak-RSS window
    steady = _rss_mib()                      # resident now: the model, a state, warm buffers
    ctx_rows = []
    for ctx in contexts:
        _reset_peak_rss()
        state = model.new_state()
        chunk = torch.randint(1, V, (1024,), generator=g).tolist()
        done = 0
        while done < ctx:
            n = min(1024, ctx - done)
            model.forward(chunk[:n], state)
            done += n
        times = decode_run(state, decode_tokens)
        ctx_rows.append({"context": ctx, "decode_tok_s": 1 / statistics.median(times),
                         "decode_ms_per_token": 1e3 * statistics.median(times), "rss_mib": _rss_mib(),
                         "peak_rss_mib": _window_peak_rss_mib()})

    p_med = statistics.median(prefill)
    return {
        "prefill_tokens": prompt_tokens,
        "prefill_tok_s": prompt_tokens / p_med,
        "time_to_first_token_s": p_med + statistics.median(decode),
        "decode_tok_s": 1 / statistics.median(decode),
        "decode_ms_per_token": 1e3 * statistics.median(decode),
        "state_bytes": state.nbytes,
        "state_save_ms": 1e3 * save_s,
        "state_load_ms": 1e3 * load_s,
        "contexts": ctx_rows,
        "peak_rss_before_contexts_mib": peak_before_contexts,
        "steady_rss_mib": steady,
    }


def run_oracle(model_path: Path, prompt_tokens: int, decode_tokens: int, repeat: int, threads: int) -> dict:
    """The same measurements on BlinkDL's ``rwkv`` package (cpu fp32), in a subprocess."""
    env = dict(os.environ, RWKV_V7_ON="1", RWKV_JIT_ON="1", RWKV_CUDA_ON="0")
    cmd = [sys.executable, "-m", "engine.tools.oracle_bench", str(model_path), str(prompt_tokens), str(decode_tokens),
           str(repeat), str(threads)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        raise RuntimeError(f"oracle bench failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _decode_steps(model, states: list, steps: int) -> tuple[list[float], list[float]]:
    """Wall and process-CPU times of ``steps`` decode steps of every state in ``states`` together
    (one alone: ``forward``, as the service runs it)."""
    toks = [int(s.last_logits.argmax()) for s in states]
    sync = torch.cuda.synchronize if model.device.type == "cuda" else (lambda: None)
    wall, cpu = [], []
    for _ in range(steps):
        sync()
        t, c = time.perf_counter(), time.process_time()
        if len(states) == 1:
            logits = model.forward(toks, states[0])[0].unsqueeze(0)
        else:
            logits = model.forward_batch(toks, states)
        toks = logits.argmax(dim=1).tolist()
        sync()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return wall, cpu


def _ttft_among(model, states: list, prompt: list[int]) -> float:
    """Seconds from a new prompt's arrival to its first token while ``states`` keep decoding, all
    scheduled by the service's Batcher (chunks of the prompt take turns with the batched tokens)."""
    from engine.service.jobs import Batcher, Job
    from engine.text.generation import CHUNK_LEN, Forward

    class Stream(Job):
        def _handle(self, item) -> bool:
            return False

        def _end(self) -> None:
            pass

        def _fail(self, error: Exception) -> None:
            raise error

    def decoding(state):
        logits = state.last_logits
        while True:
            logits = yield Forward([int(logits.argmax())], state)

    first_at: list[float] = []

    def arriving(state):
        logits = None
        for start in range(0, len(prompt), CHUNK_LEN):
            logits = yield Forward(prompt[start:start + CHUNK_LEN], state)
        int(logits.argmax())                 # the first token, sampled greedily
        first_at.append(time.perf_counter())

    jobs = [Stream(decoding(s)) for s in states]
    batcher = Batcher()
    for _ in range(2):                       # the streams are running when the prompt arrives
        for j in jobs:
            j.step()
        batcher.run(model, jobs)
    t0 = time.perf_counter()
    jobs.append(Stream(arriving(model.new_state())))
    while not first_at:
        jobs = [j for j in jobs if j.pending is not None or j.step()]
        batcher.run(model, jobs)
    return first_at[0] - t0


def concurrency(model, counts: list[int], steps: int, prompt_tokens: int) -> list[dict]:
    """One row per stream count N: aggregate and per-stream decode tok/s (median step), the time to
    first token of a ``prompt_tokens`` prompt arriving among N decoding streams, and peak RSS.

    The stream counts take turns step by step (N=1, 2, 4, ... then again), so that a machine whose
    load changes during the run (others' jobs) slows every count alike and the ratios stay fair.
    ``cpu`` is the process's CPU time per step (all threads), which others' load disturbs less.
    """
    g = torch.Generator().manual_seed(0)
    V = model.info.vocab_size
    prompt = torch.randint(1, V, (prompt_tokens,), generator=g).tolist()
    sets, rss = [], []
    for n in counts:
        _reset_peak_rss()
        states = []
        for _ in range(n):
            s = model.new_state()
            model.forward(torch.randint(1, V, (16,), generator=g).tolist(), s)
            states.append(s)
        _decode_steps(model, states, 2)      # warm-up (the kernels' scratch grows to N once)
        sets.append(states)
        rss.append(_window_peak_rss_mib())
    wall: list[list[float]] = [[] for _ in counts]
    cpu: list[list[float]] = [[] for _ in counts]
    for _ in range(steps):
        for i, states in enumerate(sets):
            w, c = _decode_steps(model, states, 1)
            wall[i] += w
            cpu[i] += c
    rows = []
    for i, n in enumerate(counts):
        step, cstep = statistics.median(wall[i]), statistics.median(cpu[i])
        rows.append({"streams": n, "step_ms": 1e3 * step, "cpu_ms": 1e3 * cstep, "aggregate_tok_s": n / step,
                     "per_stream_tok_s": 1 / step, "aggregate_tok_per_cpu_s": n / cstep,
                     "ttft_ms": 1e3 * _ttft_among(model, sets[i], prompt), "peak_rss_mib": rss[i],
                     "load": os.getloadavg()[0]})
    base = next((r for r in rows if r["streams"] == 1), None)
    for row in rows:
        if base:
            row["aggregate_x_single"] = row["aggregate_tok_s"] / base["aggregate_tok_s"]
            row["per_stream_x_single"] = row["per_stream_tok_s"] / base["per_stream_tok_s"]
            row["aggregate_x_single_cpu"] = row["aggregate_tok_per_cpu_s"] / base["aggregate_tok_per_cpu_s"]
    return rows


def run_concurrency(args: argparse.Namespace, model, res: dict) -> int:
    counts = [int(c) for c in args.concurrency.split(",") if c.strip()]
    if not counts or min(counts) < 1:
        raise SystemExit("--concurrency takes stream counts of 1 or more, e.g. 1,2,4,8,16")
    res["concurrency"] = concurrency(model, counts, args.decode_tokens, args.prompt_tokens)
    res["peak_rss_mib"] = max([res["peak_rss_mib"], _peak_rss_mib(), *(r["peak_rss_mib"] for r in res["concurrency"])])
    if args.json:
        print(json.dumps(res))
        return 0
    print(f"model     {Path(res['model']).name} ({res['shape']}) on {res['device']} {res['precision']}, "
          f"{res['threads']} threads, kernels {res['kernels']}")
    print(f"{'streams':>7} {'step ms':>8} {'aggr tok/s':>10} {'x1':>5} {'per-stream':>10} {'x1':>5} "
          f"{'cpu ms':>8} {'x1 cpu':>6} {'TTFT ms':>8} {'peak RSS':>8} {'load':>5}")
    for r in res["concurrency"]:
        print(f"{r['streams']:>7} {r['step_ms']:8.2f} {r['aggregate_tok_s']:10.1f} "
              f"{r.get('aggregate_x_single', 0):5.2f} {r['per_stream_tok_s']:10.1f} "
              f"{r.get('per_stream_x_single', 0):5.2f} {r['cpu_ms']:8.2f} {r.get('aggregate_x_single_cpu', 0):6.2f} "
              f"{r['ttft_ms']:8.1f} {r['peak_rss_mib']:8.0f} {r['load']:5.1f}")
    print(f"(x1: over one stream alone; cpu: the process's CPU time per step, all threads; TTFT: a "
          f"{args.prompt_tokens}-token prompt arriving among the streams, through the service's Batcher)")
    print(f"peak RSS  {res['peak_rss_mib']:.0f} MiB (loading included)")
    return 0


def run_bench(args: argparse.Namespace) -> int:
    from engine.models.model import load

    if args.threads:
        torch.set_num_threads(args.threads)
    t = time.perf_counter()
    model = load(args.model, device=args.device, precision=args.precision)
    load_s = time.perf_counter() - t
    res = {"model": str(model.info.path), "shape": f"L{model.info.n_layer} D{model.info.n_embd} "
           f"V{model.info.vocab_size}", "device": str(model.device), "precision": model.precision,
           "threads": torch.get_num_threads(), "kernels": model.kernels.name, "load_s": load_s}
    if getattr(args, "concurrency", ""):
        res["peak_rss_mib"] = _peak_rss_mib()     # loading: the stream counts reset the peak-RSS window
        return run_concurrency(args, model, res)
    res.update(measure(model, args.prompt_tokens, args.decode_tokens, args.repeat,
                       _parse_contexts(args.contexts)))
    res["peak_rss_mib"] = max([res.pop("peak_rss_before_contexts_mib"), _peak_rss_mib(),
                               *(row["peak_rss_mib"] for row in res["contexts"])])
    if model.device.type == "cpu":
        res["read_GBps"] = read_bandwidth_gbps()
        res["decode_ceiling_tok_s"] = res["read_GBps"] * 1e9 / matrix_bytes_per_token(model)
        res["decode_share_of_ceiling"] = res["decode_tok_s"] / res["decode_ceiling_tok_s"]
    if model.device.type == "cuda":
        res["peak_gpu_mib"] = torch.cuda.max_memory_allocated() / 2**20
    if getattr(args, "oracle", False):
        res["oracle"] = run_oracle(model.info.path, args.prompt_tokens, args.decode_tokens, args.repeat,
                                   torch.get_num_threads())
        res["oracle_ratio"] = {k: res[k] / res["oracle"][k] for k in ("prefill_tok_s", "decode_tok_s")}
    if args.json:
        print(json.dumps(res))
        return 0
    print(f"model     {Path(res['model']).name} ({res['shape']}) on {res['device']} {res['precision']}, "
          f"{res['threads']} threads, kernels {res['kernels']}")
    print(f"load      {load_s:.2f} s")
    print(f"prefill   {res['prefill_tok_s']:8.1f} tok/s  ({args.prompt_tokens} tokens, one call)")
    print(f"decode    {res['decode_tok_s']:8.1f} tok/s  ({res['decode_ms_per_token']:.2f} ms/token)")
    if "read_GBps" in res:
        print(f"ceiling   {res['decode_ceiling_tok_s']:8.1f} tok/s  (read {res['read_GBps']:.1f} GB/s now); decode at "
              f"{100 * res['decode_share_of_ceiling']:.0f}%")
    print(f"TTFT      {res['time_to_first_token_s'] * 1e3:8.1f} ms")
    print(f"state     {res['state_bytes'] / 2**20:.2f} MiB; save {res['state_save_ms']:.1f} ms, "
          f"load {res['state_load_ms']:.1f} ms")
    for row in res["contexts"]:
        print(f"ctx {row['context']:>6}  decode {row['decode_tok_s']:8.1f} tok/s "
              f"({row['decode_ms_per_token']:.2f} ms), "
              f"RSS {row['rss_mib']:.0f} MiB, peak {row['peak_rss_mib']:.0f} MiB")
    print(f"RSS       peak {res['peak_rss_mib']:.0f} MiB (loading included), steady {res['steady_rss_mib']:.0f} MiB "
          "(after the prompt and decode runs)")
    if "oracle" in res:
        o, r = res["oracle"], res["oracle_ratio"]
        print(f"oracle    prefill {o['prefill_tok_s']:.1f} tok/s, decode {o['decode_tok_s']:.1f} tok/s "
              f"(rwkv {o['version']}); ours x{r['prefill_tok_s']:.2f} / x{r['decode_tok_s']:.2f}")
    return 0
