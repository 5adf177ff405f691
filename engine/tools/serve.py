"""``python -m engine serve``: the OpenAI-compatible server without the window.

An engine service on a data folder of its own (conversations, the state cache, named states),
the model loaded into it, and the server in front until Ctrl+C; then the service shuts down.
Nothing heavy is imported until the command runs, so ``--help`` stays instant.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from engine.tools.args import PRECISION_HELP, path_to, whole_number


def add_parser(sub) -> None:
    p = sub.add_parser("serve", help="a local OpenAI-compatible HTTP server (see docs/server.md)")
    p.add_argument("--model", "-m", required=True,
                   help="model file (.pth / .safetensors), Hugging Face model folder, or bundled name")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (default: cpu)")
    p.add_argument("--precision", default="auto", help=PRECISION_HELP)
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1, this computer only; any other needs --api-key)")
    p.add_argument("--port", type=whole_number(0, 65535), default=8000,
                   help="port, 1 to 65535 (default: 8000; 0: any free port, printed once listening)")
    p.add_argument("--api-key", default=os.environ.get("RWKV_API_KEY") or None,
                   help="require 'Authorization: Bearer KEY' (default: $RWKV_API_KEY; none)")
    p.add_argument("--cors", nargs="+", action="extend", metavar="ORIGIN", default=[],
                   help="web pages that may call the server, e.g. http://localhost:3000 ('*': any); default none")
    p.add_argument("--state-cache-mb", type=whole_number(0), default=512,
                   help="RAM for the states of recent requests, so a resent chat reads only its new turn "
                        "(4x that on disk; 0: off; default 512)")
    p.add_argument("--states", metavar="DIR", type=path_to("folder", folder=True),
                   help="a folder of state-tuning files (.pth, .state) requests may start from by file name")
    p.add_argument("--data-dir", metavar="DIR", type=path_to("folder", folder=True, exists=False),
                   help="the server's own data folder, made if need be (default: 'server' in the user data folder)")
    p.add_argument("--max-tokens", type=whole_number(1), default=None,
                   help="the longest reply a request may ask for (default 8192)")
    p.add_argument("--max-running", type=whole_number(1), default=None,
                   help="replies written at once (default 8; they decode as one batch)")
    p.add_argument("--max-queued", type=whole_number(0), default=None,
                   help="requests waiting beyond those; more get 429 (default 32)")


def default_data_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("RWKV Desktop", "RWKV Desktop")) / "server"


def run_serve(args: argparse.Namespace) -> int:
    from engine.server.guard import Hints
    from engine.server.runner import bind, check_address, serve
    from engine.service import EngineService
    from engine.service import commands as C
    from engine.service import events as E

    # Refusals name this command's flags (the server's own defaults speak to the window's user).
    hints = Hints(open_address="give one with --api-key KEY (or $RWKV_API_KEY), or serve on 127.0.0.1",
                  web_page="start the server with --cors {origin} to allow that page")
    check_address(args.host, args.api_key, hints)      # before minutes of loading, not after
    if args.port:
        bind(args.host, args.port).close()              # a port in use, too (serve binds it again)
    options = {k: v for k, v in (("max_tokens_cap", args.max_tokens), ("max_running", args.max_running),
                                 ("max_queued", args.max_queued)) if v is not None}
    data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        print(f"error: Cannot make the data folder {data_dir}: {e.strerror or e}.", file=sys.stderr)
        return 2
    service = EngineService(data_dir, state_cache_mb=args.state_cache_mb,
                            tuning_dir=Path(args.states) if args.states else None)
    try:
        loaded = service.call(C.LoadModel(args.model, args.device, args.precision))
        if isinstance(loaded, E.Failed):
            print(f"error: {loaded.title}: {loaded.message}", file=sys.stderr)
            return 2
        view = loaded.model
        print(f"{view.name}: {view.description}, {view.precision} on {view.device}", file=sys.stderr)

        def ready(url: str) -> None:
            print(f"Serving '{view.name}' at {url}{'' if args.api_key else ' (no API key)'}. Ctrl+C stops.",
                  flush=True)

        serve(service, args.host, args.port, api_key=args.api_key, allow_origins=tuple(args.cors), hints=hints,
              on_ready=ready, **options)
    finally:
        service.shutdown()
    print("[stopped]", file=sys.stderr)
    return 0
