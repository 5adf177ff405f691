"""Hugging Face layouts, mapped onto the official RWKV key names before any model sees them.

Two layouts are read, as folders (``config.json`` plus one or more weight files) or as a lone
weight file:

* transformers' RWKV (``RWKV/rwkv-4-*-pile`` and friends): the official tensors under other names,
  ``rwkv.`` in front, ``attention`` / ``feed_forward`` for ``att`` / ``ffn``, ``pre_ln`` for ``ln0``
  and ``time_mix_key`` for ``time_mix_k``. Shapes are unchanged.
* flash-linear-attention's RWKV-7 (``fla-hub/rwkv7-*``): ``model.layers.N.attn.*`` with the LoRAs
  as ``nn.Linear`` pairs (``lora.0`` = ``w1ᵀ``, ``lora.2`` = ``w2ᵀ`` with bias ``w0``), the six
  token-shift mixes fused into ``x_x`` ``[6, C]`` (older exports keep ``x_r`` ... separately),
  ``g_norm`` for ``ln_x`` and ``*_proj`` for the projections.

The mapping restores the official names *and shapes* (``[1, 1, C]`` mixes, ``[C, D]`` LoRAs), so a
folder and the ``.pth`` it came from hold identical tensors and share a fingerprint: states saved
with one load with the other.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from torch import Tensor

from engine.errors import ModelNotFoundError, NotAModelError

_TRANSFORMERS_SUFFIXES = {".time_mix_key": ".time_mix_k", ".time_mix_value": ".time_mix_v",
                          ".time_mix_receptance": ".time_mix_r", ".time_mix_gate": ".time_mix_g"}
_FLA_NORMS = {"pre_norm": "ln0", "attn_norm": "ln1", "ffn_norm": "ln2"}
_FLA_PROJ = {"r_proj": "receptance", "k_proj": "key", "v_proj": "value", "o_proj": "output"}
_FLA_MIXES = ("x_r", "x_w", "x_k", "x_v", "x_a", "x_g")   # the row order of fla's fused x_x
_FLA_LORA = re.compile(r"([wavg])_lora\.lora\.(0\.weight|2\.weight|2\.bias)")


def is_hf_folder(path: Path) -> bool:
    """A folder with a ``config.json`` and weights in safetensors or ``.bin`` files."""
    return path.is_dir() and (path / "config.json").is_file() and bool(weight_files(path, strict=False))


def weight_files(folder: Path, strict: bool = True) -> list[Path]:
    """The folder's weight shards: those an index names, else every ``*.safetensors``, else ``*.bin``."""
    for index in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        if (folder / index).is_file():
            try:
                names = sorted(set(json.loads((folder / index).read_text())["weight_map"].values()))
            except (ValueError, KeyError, TypeError, AttributeError) as e:
                raise NotAModelError("'{folder}/{index}' is damaged ({error}).",
                                     folder=folder.name, index=index, error=e) from e
            # The index is a file from the internet: a shard is a file of this folder, named plainly,
            # never a path that leads out of it ("../x", "/etc/x", "C:\\x", "sub/x").
            bad = [n for n in names if not isinstance(n, str) or not _plain_name(n)]
            if bad:
                raise NotAModelError("'{folder}/{index}' names a weight file outside its folder "
                                     "({bad}); it was refused without reading anything.",
                                     folder=folder.name, index=index, bad=repr(bad[0]))
            missing = [n for n in names if not (folder / n).is_file()]
            if missing and strict:
                raise ModelNotFoundError("The model folder '{folder}' lacks {count} of its weight "
                                         "files ({files}); the download is incomplete.",
                                         folder=folder.name, count=len(missing), files=", ".join(missing[:3]))
            return [folder / n for n in names]
    found = sorted(folder.glob("*.safetensors")) or sorted(folder.glob("*.bin"))
    return found


def _plain_name(name: str) -> bool:
    return (bool(name) and name not in (".", "..") and "/" not in name and "\\" not in name and ":" not in name
            and not name.startswith("."))


def read_config(folder: Path) -> dict:
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise NotAModelError("'{folder}/config.json' cannot be read ({error}).", folder=folder.name, error=e) from e
    return config if isinstance(config, dict) else {}


def to_official(tensors: dict[str, Tensor], config: dict | None = None) -> dict[str, Tensor]:
    """``tensors`` under official RWKV names; files that already use them are returned as they are."""
    keys = tensors.keys()
    if any(k.startswith("rwkv.") for k in keys) and any(".blocks." in k for k in keys):
        return _from_transformers(tensors)
    if any(k.startswith("model.layers.") and ".attn." in k for k in keys):
        return _from_fla_rwkv7(tensors, config or {})
    return tensors


def _from_transformers(tensors: dict[str, Tensor]) -> dict[str, Tensor]:
    out = {}
    for name, t in tensors.items():
        name = name.removeprefix("rwkv.")
        name = re.sub(r"^embeddings\.", "emb.", name)
        name = name.replace("blocks.0.pre_ln.", "blocks.0.ln0.")
        name = re.sub(r"^(blocks\.\d+)\.attention\.", r"\1.att.", name)
        name = re.sub(r"^(blocks\.\d+)\.feed_forward\.", r"\1.ffn.", name)
        for theirs, ours in _TRANSFORMERS_SUFFIXES.items():
            if name.endswith(theirs):
                name = name[: -len(theirs)] + ours
        out[name] = t
    return out


def _from_fla_rwkv7(tensors: dict[str, Tensor], config: dict) -> dict[str, Tensor]:
    out: dict[str, Tensor] = {}
    for name, t in tensors.items():
        if name == "model.embeddings.weight":
            out["emb.weight"] = t
        elif name.startswith("model.norm."):
            out["ln_out." + name.removeprefix("model.norm.")] = t
        elif name == "lm_head.weight":
            out["head.weight"] = t
        elif m := re.fullmatch(r"model\.layers\.(\d+)\.(\w+)\.(.+)", name):
            out.update(_fla_layer_tensor(f"blocks.{m[1]}.", m[2], m[3], t))
        else:
            out[name] = t     # unknown: kept, so the model's own key check names it if it matters
    if "head.weight" not in out and config.get("tie_word_embeddings") and "emb.weight" in out:
        out["head.weight"] = out["emb.weight"]
    return out


def _fla_layer_tensor(block: str, module: str, rest: str, t: Tensor) -> dict[str, Tensor]:
    C = t.shape[-1]
    if module in _FLA_NORMS:
        return {f"{block}{_FLA_NORMS[module]}.{rest}": t}
    if module == "ffn":
        return {f"{block}ffn.{rest}": t.reshape(1, 1, -1) if rest == "x_k" else t}
    if module != "attn":
        return {f"{block}{module}.{rest}": t}
    att = block + "att."
    if rest == "x_x":
        return {att + mix: row.reshape(1, 1, C).contiguous() for mix, row in zip(_FLA_MIXES, t.unbind(0), strict=True)}
    if rest in _FLA_MIXES or rest in ("k_k", "k_a"):
        return {att + rest: t.reshape(1, 1, -1)}
    if m := _FLA_LORA.fullmatch(rest):
        kind, part = m[1], m[2]
        if part == "2.bias":
            return {f"{att}{kind}0": t.reshape(1, 1, -1)}
        return {f"{att}{kind}{'1' if part == '0.weight' else '2'}": t.t().contiguous()}
    proj, _, param = rest.partition(".")
    if proj in _FLA_PROJ:
        return {f"{att}{_FLA_PROJ[proj]}.{param}": t}
    if proj == "g_norm":
        return {f"{att}ln_x.{param}": t}
    return {att + rest: t}
