"""Timing of BlinkDL's ``rwkv`` package for ``bench --oracle`` (run in its own process: the package
reads RWKV_V7_ON at import and keeps its dtype in module globals). Prints one JSON line."""

import json
import statistics
import sys
import time
from importlib.metadata import version

import torch


def main() -> None:
    path, n_prompt, n_decode, repeat, threads = sys.argv[1], *map(int, sys.argv[2:6])
    torch.set_num_threads(threads)
    from rwkv.model import RWKV  # noqa: PLC0415 - environment must be set first

    model = RWKV(model=path.removesuffix(".pth"), strategy="cpu fp32")
    vocab = model.z["emb.weight"].shape[0]
    prompt = torch.randint(1, vocab, (n_prompt,), generator=torch.Generator().manual_seed(0)).tolist()
    prefill = []
    for _ in range(repeat):
        t = time.perf_counter()
        out, state = model.forward(prompt, None)
        prefill.append(time.perf_counter() - t)
    tok, times = int(out.argmax()), []
    for i in range(n_decode + 3):
        t = time.perf_counter()
        out, state = model.forward([tok], state)
        tok = int(out.argmax())
        if i >= 3:
            times.append(time.perf_counter() - t)
    print(json.dumps({"version": version("rwkv"), "prefill_tok_s": n_prompt / statistics.median(prefill),
                      "decode_tok_s": 1 / statistics.median(times)}))


if __name__ == "__main__":
    main()
