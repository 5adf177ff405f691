"""Where the peer runners and the shared models live: ``$RWKV_PEERS_DIR``, else ``peers/`` beside
this checkout (``../peers``). Nothing of it is in the repository."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PEERS = Path(os.environ.get("RWKV_PEERS_DIR") or ROOT.parent / "peers")
MODELS = PEERS / "models"
LLAMA = PEERS / "llama.cpp"
VENV = PEERS / "venv"
