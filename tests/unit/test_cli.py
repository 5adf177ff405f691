"""python -m engine: info, generate, chat (with state save and resume), bench, errors."""

from __future__ import annotations

import json
import subprocess
import sys

import engine
from engine import State


def _run(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine", *args], input=stdin, capture_output=True,
                          text=True, timeout=300)


def test_info_reports_the_shape_read_from_the_tensors(world_ckpt):
    out = _run("info", str(world_ckpt), "--json")
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert (info["generation"], info["layers"], info["width"], info["heads"], info["head_size"],
            info["vocab"]) == (7, 3, 64, 2, 32, 65536)


def test_generate_prints_the_greedy_continuation(world_ckpt, world_model, world_tok):
    out = _run("generate", "--model", str(world_ckpt), "--prompt", "Hello", "-n", "8", "--temperature", "0",
               "--presence-penalty", "0", "--frequency-penalty", "0")
    assert out.returncode == 0, out.stderr
    gen = engine.generate(world_model, world_tok, "Hello", settings=engine.SamplerSettings(
        temperature=0, presence_penalty=0, frequency_penalty=0), max_tokens=8)
    assert out.stdout.rstrip("\n") == gen.run()
    assert "generated at" in out.stderr


def test_chat_saves_a_state_that_generate_resumes(world_ckpt, world_model, tmp_path):
    saved = tmp_path / "chat.safetensors"
    out = _run("chat", "--model", str(world_ckpt), "-n", "5", "--save-state", str(saved),
               stdin="Hi there\n/quit\n")
    assert out.returncode == 0, out.stderr
    assert "Assistant:" in out.stdout
    state = State.load(saved, world_model)
    assert state.tokens_seen == len(engine.load_tokenizer("world").encode("User: Hi there\n\nAssistant:")) + 5
    again = _run("generate", "--model", str(world_ckpt), "--state", str(saved), "--prompt", "x", "-n", "3")
    assert again.returncode == 0, again.stderr


def test_bench_prints_one_json_object(world_ckpt):
    out = _run("bench", "--model", str(world_ckpt), "--prompt-tokens", "40", "--decode-tokens", "5",
               "--repeat", "1", "--contexts", "64", "--json")
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    assert res["prefill_tok_s"] > 0 and res["decode_tok_s"] > 0
    assert res["contexts"][0]["context"] == 64
    assert res["state_bytes"] == 4 * 3 * (2 * 64 + 2 * 32 * 32)


def test_errors_are_one_clear_line_and_exit_code_2(tmp_path):
    junk = tmp_path / "notes.pth"
    junk.write_text("just some notes")
    out = _run("info", str(junk))
    assert out.returncode == 2
    assert out.stderr.startswith("error: 'notes.pth' is not a model file")
    assert "Traceback" not in out.stderr
