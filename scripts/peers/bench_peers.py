"""llama.cpp and our engine, timed alternately on the same RWKV-7 weights, as one markdown table.

These VMs' memory bandwidth swings 2x from minute to minute, so runners are never timed in
separate sessions: each round runs every (llama.cpp class, our precision) pair back to back,
swapping who goes first every round, and the table gives medians over rounds with min-max.

* llama.cpp: ``llama-bench -m X.gguf -p 512 -n 128 -t 2 -r REPS -o json`` under ``/usr/bin/time -v``
  (peak RSS = its maximum resident set). pp512 = mean of REPS prompts, tg128 = 128 generated
  tokens, logits every token.
* ours: ``python -m engine bench --model X.pth --threads 2 --precision P --prompt-tokens 512
  --decode-tokens 128 --repeat REPS --json``; pp512 = 512 / median prompt time, tg = 1 / median
  time of one-token calls (argmax every token); peak RSS as the bench measures it (ru_maxrss before
  its own bandwidth probe, which would add 1 GiB).
Every round also prints our bench's read-bandwidth probe (GB/s), the weather of that moment.
Other work on the machine (a test suite in another checkout) wrecks the figures, llama.cpp's most
(its threads spin-wait: tg fell 60 -> 3 tok/s), so before each runner we wait up to ``--max-wait``
s for idle CPUs, measure the CPU time others took during the run (/proc/stat minus our child's
rusage), and run it again (``--retries``) when that exceeds ``--max-others`` of the machine.
Disturbed figures are left out of a cell that has clean rounds; a cell with none is marked ``*``.

    .venv/bin/python scripts/peers/bench_peers.py --shape 0.1b --rounds 3

``--server PORT`` instead starts ``llama-server`` on the f32 (or ``--server-class``) GGUF with
``-np N`` parallel slots and 2 threads, in the foreground, for server comparisons.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_models import SHAPES, paths  # noqa: E402
from peer_dirs import LLAMA, MODELS  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
# Which of our precisions faces which llama.cpp class (None: that side has no such class).
PAIRS = [("f32", "fp32"), ("f16", "bf16"), ("q8_0", "int8"), ("q5_0", "q5"), ("q5_K", None), ("q4_0", "q4"),
         ("q4_K", None)]   # q5, q4: q5_0's, q4_0's math


def cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    hz = os.sysconf("SC_CLK_TCK")
    return (sum(v) - v[3] - v[4]) / hz, sum(v) / hz


def children_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def wait_quiet(max_wait: float, threshold: float) -> None:
    """Wait until others use under ``threshold`` of the machine over 2 s, or ``max_wait`` passes."""
    deadline = time.monotonic() + max_wait
    while time.monotonic() < deadline:
        b0, t0 = cpu_seconds()
        time.sleep(2)
        b1, t1 = cpu_seconds()
        if (b1 - b0) / max(t1 - t0, 1e-9) < threshold:
            return


def measured(job, args: argparse.Namespace) -> dict:
    """Run ``job`` when the machine is quiet; again when others took over ``max_others`` meanwhile."""
    for _ in range(args.retries + 1):
        wait_quiet(args.max_wait, args.max_others)
        b0, t0 = cpu_seconds()
        c0 = children_seconds()
        r = job()
        b1, t1 = cpu_seconds()
        r["others"] = max(0.0, (b1 - b0 - (children_seconds() - c0)) / max(t1 - t0, 1e-9))
        if r["others"] <= args.max_others:
            break
        print(f"  (others took {r['others']:.0%} of the CPUs: again)", flush=True)
    return r


def run_llama(bench: Path, gguf: Path, threads: int, reps: int) -> dict:
    with tempfile.NamedTemporaryFile("r", suffix=".txt") as tv:
        cmd = ["/usr/bin/time", "-v", "-o", tv.name, str(bench), "-m", str(gguf), "-p", "512", "-n", "128",
               "-t", str(threads), "-r", str(reps), "-o", "json"]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            sys.exit(f"llama-bench failed:\n{res.stderr[-3000:]}")
        rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", tv.read()).group(1))
    rows = json.loads(res.stdout)
    pp = next(r["avg_ts"] for r in rows if r["n_prompt"] == 512 and r["n_gen"] == 0)
    tg = next(r["avg_ts"] for r in rows if r["n_gen"] == 128 and r["n_prompt"] == 0)
    return {"pp": pp, "tg": tg, "rss": rss_kb / 1024, "commit": rows[0]["build_commit"]}


def run_ours(pth: Path, precision: str, threads: int, reps: int) -> dict:
    cmd = [sys.executable, "-m", "engine", "bench", "--model", str(pth), "--threads", str(threads),
           "--precision", precision, "--prompt-tokens", "512", "--decode-tokens", "128",
           "--repeat", str(reps), "--json"]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    if res.returncode != 0:
        sys.exit(f"engine bench failed:\n{res.stderr[-3000:]}")
    out = json.loads(res.stdout.strip().splitlines()[-1])
    return {"pp": out["prefill_tok_s"], "tg": out["decode_tok_s"], "rss": out["peak_rss_mib"],
            "GBps": out["read_GBps"], "kernels": out["kernels"]}


def cell(values: list[float]) -> str:
    """Median, and min-max when there is more than one round."""
    fmt = (lambda v: f"{v:.0f}") if max(values) >= 100 else (lambda v: f"{v:.1f}")
    med = fmt(statistics.median(values))
    return med if len(values) == 1 else f"{med} ({fmt(min(values))}–{fmt(max(values))})"


def bench(args: argparse.Namespace) -> None:
    files = paths(args.models, args.shape, args.seed)
    classes = args.classes.split(",")
    ours = args.ours.split(",")
    pairs = [(c, p if p in ours else None) for c, p in PAIRS if c in classes]
    pairs += [(None, p) for p in ours if p not in {q for _, q in pairs}]
    results: dict[tuple[str, str], list[dict]] = {}
    for rnd in range(args.rounds):
        for c, p in pairs:
            jobs = []
            if c:
                jobs.append((("llama.cpp", c), lambda c=c: run_llama(args.llama / "bin" / "llama-bench",
                                                                     files[c], args.threads, args.reps)))
            if p:
                jobs.append((("RWKV Desktop", p), lambda p=p: run_ours(files["pth"], p, args.threads, args.reps)))
            for key, job in (jobs if rnd % 2 == 0 else jobs[::-1]):
                r = measured(job, args)
                results.setdefault(key, []).append(r)
                extra = f", probe {r['GBps']:.1f} GB/s" if "GBps" in r else ""
                print(f"round {rnd + 1} {key[0]} {key[1]}: pp512 {r['pp']:.1f}, tg128 {r['tg']:.1f} tok/s, "
                      f"peak RSS {r['rss']:.0f} MiB{extra}, others {r['others']:.0%}", flush=True)

    n_layer, n_embd = SHAPES[args.shape]
    commit = next((r[0]["commit"] for k, r in results.items() if k[0] == "llama.cpp"), "?")
    kernels = next((r[0]["kernels"] for k, r in results.items() if k[0] == "RWKV Desktop"), "?")
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                         cwd=REPO).stdout.strip()
    print(f"\n{args.shape} (L{n_layer} D{n_embd} V65536), seed {args.seed}, {args.threads} threads, "
          f"{args.rounds} round(s), medians (min–max) in tok/s; llama.cpp {commit}, RWKV Desktop {git} ({kernels})\n")
    print("| runner | class | pp512 | tg128 | peak RSS MiB |")
    print("|---|---|---|---|---|")
    for (runner, cls), all_rs in results.items():
        # contended figures count only where no clean one exists (and then carry a *)
        rs = [r for r in all_rs if r["others"] <= args.max_others] or all_rs
        mark = "*" if any(r["others"] > args.max_others for r in rs) else ""
        print(f"| {runner} | {cls}{mark} | {cell([r['pp'] for r in rs])} | {cell([r['tg'] for r in rs])} | "
              f"{max(r['rss'] for r in rs):.0f} |")
    probes = [r["GBps"] for rs in results.values() for r in rs if "GBps" in r]
    if probes:
        print(f"\nread-bandwidth probe during the run: {min(probes):.1f}–{max(probes):.1f} GB/s")
    dropped = sum(r["others"] > args.max_others for rs in results.values() for r in rs)
    if dropped:
        print(f"{dropped} figure(s) taken while other processes used over {args.max_others:.0%} of the CPUs: "
              "left out where the same cell has clean rounds, else kept and marked *")


def serve(args: argparse.Namespace) -> None:
    """Run llama-server in the foreground (exec): one model, N slots, our thread count."""
    gguf = paths(args.models, args.shape, args.seed)[args.server_class]
    cmd = [str(args.llama / "bin" / "llama-server"), "-m", str(gguf), "--host", "127.0.0.1",
           "--port", str(args.server), "-np", str(args.np), "-t", str(args.threads), "-tb", str(args.threads),
           "-c", str(args.ctx * args.np)]
    print(" ".join(cmd), flush=True)
    os.execv(cmd[0], cmd)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", choices=SHAPES, default="0.1b")
    ap.add_argument("--models", type=Path, default=MODELS, help="make_models.py --out")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--llama", type=Path, default=LLAMA)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reps", type=int, default=3, help="repetitions inside each runner's own bench")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-wait", type=float, default=120, help="seconds to wait for idle CPUs before each runner")
    ap.add_argument("--max-others", type=float, default=0.1, help="share of the CPUs others may take during a run")
    ap.add_argument("--retries", type=int, default=3, help="reruns of a runner that others disturbed")
    ap.add_argument("--classes", default="f32,f16,q8_0,q5_0,q5_K,q4_0,q4_K", help="llama.cpp GGUF classes")
    ap.add_argument("--ours", default="fp32,bf16,int8,q5,q4", help="our precisions")
    ap.add_argument("--server", type=int, metavar="PORT", help="start llama-server on PORT instead of benchmarking")
    ap.add_argument("--server-class", default="f32")
    ap.add_argument("--np", type=int, default=4, help="llama-server parallel slots (-np)")
    ap.add_argument("--ctx", type=int, default=4096, help="context per slot (llama-server -c is ctx * np)")
    args = ap.parse_args()
    serve(args) if args.server else bench(args)


if __name__ == "__main__":
    main()
