"""The name a model is shown under: from its file, its folder, or its Hugging Face cache repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.host import library
from engine.models.checkpoint import model_name
from engine.models.model import ModelInfo


def _name(path: str) -> str:
    return ModelInfo(7, 1, 1, 1, 1, 1, 1, 1, "float32", Path(path), "x").name


@pytest.mark.parametrize(("path", "expected"), [
    ("/m/RWKV-x070-World-0.1B-v2.8-20241210-ctx4096.pth", "RWKV-x070-World-0.1B-v2.8-20241210-ctx4096"),
    ("/m/demo/model.safetensors", "demo"),                      # generic file name: its folder's
    ("/m/World-0.1B", "World-0.1B"),                            # a folder whose name has a dot
    ("/c/models--fla-hub--rwkv7-1.5B-world/snapshots/0123abcd", "rwkv7-1.5B-world"),
    ("/c/models--fla-hub--rwkv7-1.5B-world/snapshots/0123abcd/model.safetensors", "rwkv7-1.5B-world"),
    ("/c/models--BlinkDL--rwkv7-g1/snapshots/0123abcd/rwkv7-g1a-0.1b.pth", "rwkv7-g1a-0.1b"),
])
def test_model_name_comes_from_file_folder_or_hub_repository(path, expected):
    assert _name(path) == expected
    assert model_name(path) == expected            # what a stored conversation's model path is named by


def test_the_bundled_demo_is_named_demo_from_its_path_as_when_loaded():
    path = library.bundled()
    assert path.name == "model.safetensors" and model_name(path) == model_name(str(path)) == _name(str(path)) == "demo"
