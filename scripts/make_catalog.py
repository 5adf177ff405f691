"""Build ``resources/catalog.json`` from the reference list of official RWKV files.

Usage: ``python scripts/make_catalog.py model_files.csv [-o resources/catalog.json]``

Kept: files hosted on Hugging Face that the engine can load (``.pth`` / ``.safetensors`` of a known
RWKV generation). GGUF files are left out: they are for llama.cpp, not for this engine. The
generation comes from the ``arch`` column, or from the tags when the name gave no hint; the
parameter count and context length are read from the file name, so they are hints for sorting
and for the size recommendation, never used to load anything.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
from pathlib import Path

LOADABLE_SUFFIXES = (".pth", ".safetensors")
_GENERATION = re.compile(r"RWKV-(\d)$")
# "1.5b", "0.1B", "7B", "12b", and the older "1B5" / "1B6" spelling (1.5 / 1.6 billion); "120M", "82M".
_PARAMETERS = re.compile(r"(?<![A-Za-z0-9.])(\d+(?:\.\d+)?)([BbMm])(\d)?(?![A-Za-z0-9])")
_CONTEXT = re.compile(r"^(\d+)(k?)$")


def parse_generation(arch: str, tags: list[str]) -> int | None:
    for text in [arch, *tags]:
        match = _GENERATION.match(text.strip())
        if match and match.group(1) in "4567":
            return int(match.group(1))
    return None


def parse_parameters(filename: str) -> float | None:
    """Billions of parameters as written in the name, or None when the name does not say."""
    match = _PARAMETERS.search(Path(filename).stem)
    if match is None:
        return None
    whole, unit, tenth = match.groups()
    value = float(f"{whole}.{tenth}") if tenth else float(whole)
    return round(value / 1000, 3) if unit in "Mm" else value


def parse_context(text: str) -> int | None:
    match = _CONTEXT.match(text.strip())
    if match is None:
        return None
    return int(match.group(1)) * (1024 if match.group(2) else 1)


def build(rows: list[dict[str, str]]) -> list[dict]:
    entries = []
    for row in rows:
        filename = row["filename"]
        tags = [t.strip() for t in row["runner_tags"].split(",") if t.strip()]
        generation = parse_generation(row["arch(guessed from name)"], tags)
        if row["host"] != "HF" or not filename.endswith(LOADABLE_SUFFIXES) or generation is None:
            continue
        entries.append(
            {
                "repo": row["repo"],
                "filename": filename,
                "size": int(row["size_bytes"]),
                "sha256": row["sha256"].lower(),
                "generation": generation,
                "parameters": parse_parameters(filename),
                "context": parse_context(row["ctx(from name)"]),
                "tags": tags,
                "visibility": row["runner_visibility"],
            }
        )
    return entries


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", type=Path, help="model_files.csv (filename, size_bytes, host, repo, ...)")
    parser.add_argument("-o", "--output", type=Path, default=Path(__file__).parents[1] / "resources" / "catalog.json")
    args = parser.parse_args(argv)
    with args.csv.open(newline="", encoding="utf-8") as f:
        entries = build(list(csv.DictReader(f)))
    document = {"format": 1, "source": args.csv.name, "entries": entries}
    args.output.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{len(entries)} entries -> {args.output}")


if __name__ == "__main__":
    main()
