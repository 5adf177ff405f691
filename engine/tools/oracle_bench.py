"""Timing of BlinkDL's ``rwkv`` package for ``bench --oracle`` (run in its own process: the package
reads RWKV_V7_ON at import and keeps its dtype in module globals). Prints one JSON line."""

import json
import os
import statistics
import sys
import time
from importlib.metadata import version

import torch


def main() -> None:
    path, n_prompt, n_decode, repeat, threads = sys.argv[1], *map(int, sys.argv[2:6])
    torch.set_num_threads(threads)
    # The package picks RWKV-7 or RWKV-4/5/6 from RWKV_V7_ON at import: set it from the file itself.
    v7 = "blocks.0.att.r_k" in torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    os.environ["RWKV_V7_ON"] = "1" if v7 else "0"
    from rwkv.model import RWKV  # noqa: PLC0415 - environment must be set first

    if v7:
        model = RWKV(model=path.removesuffix(".pth"), strategy="cpu fp32")
    else:
        model = RWKV(model=path.removesuffix(".pth"), strategy="cpu fp32", verbose=False)
    vocab = (model.z if v7 else model.w)["emb.weight"].shape[0]
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
