"""argparse types for the command line's values: a value no run could use is refused as the command line
is read (``error: argument --port: ...``), before minutes of loading, not by the first request after them."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path

# --precision of chat, generate and serve (engine.load's rule for "auto", engine.models.model._auto_precision).
PRECISION_HELP = ("fp32, bf16, fp16 (GPU), int8, q5 or q4 (CPU) or auto (default): on the CPU the first of fp32, "
                  "bf16, int8, q5, q4 that fits this machine's memory (as the app picks for a model it has not "
                  "measured); fp16 on a GPU")


def whole_number(lo: int, hi: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number from ``lo`` (to ``hi``), so that a value no run could use is refused
    as the command line is read, before minutes of loading, not by the first request after them."""
    bounds = f"at least {lo}" if hi is None else f"from {lo} to {hi}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number {bounds}, got '{text}'") from None
        if value < lo or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"must be a whole number {bounds}, got {value}")
        return value
    return parse


def number(lo: float, hi: float, *, above_lo: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number from ``lo`` (or above it) to ``hi``."""
    bounds = f"above {lo:g} and at most {hi:g}" if above_lo else f"from {lo:g} to {hi:g}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number {bounds}, got '{text}'") from None
        if not math.isfinite(value) or value < lo or value > hi or (above_lo and value == lo):
            raise argparse.ArgumentTypeError(f"must be a number {bounds}, got {text}")
        return value
    return parse


def path_to(what: str, *, folder: bool = False, exists: bool = True) -> Callable[[str], str]:
    """An argparse type: the path of a file (or a folder) that exists, or where one will be made."""
    def parse(text: str) -> str:
        path = Path(text).expanduser()
        if path.exists() and path.is_dir() != folder:
            raise argparse.ArgumentTypeError(f"{text} is a {'file' if folder else 'folder'}, not a {what}")
        if exists and not path.exists():
            raise argparse.ArgumentTypeError(f"no {what} at {text}")
        return str(path)
    return parse
