"""Runs BlinkDL's ``rwkv`` package on a batch of forward-call sequences; started by ``tests/oracle.py``.

Usage: ``python _oracle_worker.py REQUEST.pt RESULT.pt``. It lives in its own process because the
package reads its configuration (``RWKV_V7_ON`` and friends) from the environment at import time
and keeps the dtype in module globals, so one process can hold one configuration only.

Request (``torch.save``d)::

    {"strategy": "cpu fp32", "v7": True,
     "jobs": [{"model": "/path/without/suffix", "runs": [{"calls": [[1, 2, 3], [4]], "full_output": False}]}]}

Result: ``{"jobs": [[{"logits": [Tensor, ...], "state": [Tensor, ...]}, ...], ...],
"load_s": [...], "total_s": float}``, one entry per run: the logits after each call (fp32) and the
final state (the package's flat list: five tensors per layer for RWKV-4, three for 5, 6 and 7).
``"v7": False`` runs RWKV-4/5/6 files; the caller sets ``RWKV_V7_ON`` to match.
"""

from __future__ import annotations

import os
import sys
import time
import warnings


def _run(model, calls: list[list[int]], full_output: bool) -> dict:
    state = None
    logits = []
    for call in calls:
        out, state = model.forward([int(t) for t in call], state, full_output=full_output)
        if full_output and out.dim() == 1:  # forward_one ignores full_output
            out = out.unsqueeze(0)
        logits.append(out.float().clone())
    return {"logits": logits, "state": [s.clone() for s in state]}


def main(request_path: str, result_path: str) -> None:
    import torch

    request = torch.load(request_path, weights_only=True)
    # The package reads RWKV_V7_ON at import: "1" makes every file RWKV-7, anything else RWKV-4/5/6.
    v7 = request.get("v7", True)
    if (os.environ.get("RWKV_V7_ON") == "1") != v7:
        sys.exit(f"RWKV_V7_ON must {'' if v7 else 'not '}be '1' for this request (v7={v7})")
    warnings.filterwarnings("ignore", category=DeprecationWarning)  # TorchScript is deprecated

    start = time.perf_counter()
    from rwkv.model import RWKV

    results, load_s = [], []
    with torch.no_grad():
        for job in request["jobs"]:
            t0 = time.perf_counter()
            extra = {} if v7 else {"verbose": False}   # the v7 class takes no such argument
            model = RWKV(model=job["model"], strategy=request["strategy"], **extra)
            load_s.append(time.perf_counter() - t0)
            results.append([_run(model, run["calls"], run["full_output"]) for run in job["runs"]])
    torch.save({"jobs": results, "load_s": load_s, "total_s": time.perf_counter() - start}, result_path)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
