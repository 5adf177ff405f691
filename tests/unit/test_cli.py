"""python -m engine: info, generate, chat (with state save and resume), bench, errors."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest
import torch

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


@pytest.mark.skipif(sys.platform == "win32", reason="Ctrl+C is not a POSIX signal there")
@pytest.mark.parametrize("template", ["none", "world"])
def test_ctrl_c_during_generate_stops_the_reply_cleanly(world_ckpt, template):
    proc = subprocess.Popen([sys.executable, "-m", "engine", "generate", "--model", str(world_ckpt), "--prompt",
                             "Hello", "-n", "1000000", "--temperature", "0", "--template", template],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout.read(1)                 # the reply has begun streaming
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err.decode()
    assert b"Traceback" not in err and b"KeyboardInterrupt" not in err
    assert b"stop: cancelled" in err


def test_bench_prints_one_json_object(world_ckpt):
    out = _run("bench", "--model", str(world_ckpt), "--prompt-tokens", "40", "--decode-tokens", "5",
               "--repeat", "1", "--contexts", "64", "--json")
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    assert res["prefill_tok_s"] > 0 and res["decode_tok_s"] > 0
    assert res["contexts"][0]["context"] == 64
    assert res["state_bytes"] == 4 * 3 * (2 * 64 + 2 * 32 * 32)


def test_bench_concurrency_prints_a_row_per_stream_count(world_ckpt):
    out = _run("bench", "--model", str(world_ckpt), "--prompt-tokens", "40", "--decode-tokens", "3",
               "--concurrency", "1,3", "--json")
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    rows = res["concurrency"]
    assert [r["streams"] for r in rows] == [1, 3]
    assert all(r["aggregate_tok_s"] > 0 and r["ttft_ms"] > 0 and r["peak_rss_mib"] > 0 for r in rows)
    assert res["peak_rss_mib"] >= max(r["peak_rss_mib"] for r in rows)   # and loading's, before the rows


def test_errors_are_one_clear_line_and_exit_code_2(tmp_path):
    junk = tmp_path / "notes.pth"
    junk.write_text("just some notes")
    out = _run("info", str(junk))
    assert out.returncode == 2
    assert out.stderr.startswith("error: 'notes.pth' is not a model file")
    assert "Traceback" not in out.stderr


def test_template_names_are_the_chat_modules():
    from engine.text.chat import TEMPLATES
    from engine.tools.cli import TEMPLATE_NAMES

    assert TEMPLATE_NAMES == tuple(TEMPLATES)


def test_chat_template_flag_picks_the_role_names(world_ckpt, world_model, tmp_path, capsys, monkeypatch):
    from engine.tools.cli import main

    saved = tmp_path / "raven.safetensors"
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("Hi there\n/quit\n"))
    assert main(["chat", "--model", str(world_ckpt), "-n", "5", "--template", "raven",
                 "--save-state", str(saved)]) == 0
    out, err = capsys.readouterr()
    assert "Alice: " in out and "raven template (Bob / Alice)" in err
    tokens = engine.load_tokenizer("world").encode("Bob: Hi there\n\nAlice:")
    assert State.load(saved, world_model).tokens_seen == len(tokens) + 5


def test_generate_with_a_template_asks_one_turn(world_ckpt, world_model, world_tok, capsys):
    from engine.text.chat import ChatSession
    from engine.tools.cli import main

    greedy = ["--temperature", "0", "--presence-penalty", "0", "--frequency-penalty", "0"]
    assert main(["generate", "--model", str(world_ckpt), "--prompt", "Hello", "-n", "6", "--template", "auto",
                 *greedy]) == 0
    out, err = capsys.readouterr()
    chat = ChatSession(world_model, world_tok, max_tokens=6, settings=engine.SamplerSettings(
        temperature=0, presence_penalty=0, frequency_penalty=0))
    assert out.rstrip("\n") == "".join(chat.send("Hello")) and "world template" in err


def test_generate_takes_a_tokenizer_path_and_an_ai00_state(world_ckpt, world_model, tmp_path, capsys):
    from importlib.resources import files

    from safetensors.torch import save_file

    from engine.tools.cli import main

    i = world_model.info
    ai00 = tmp_path / "tuned.state"
    save_file({f"blocks.{n}.att.time_state": torch.full((i.n_head, i.head_size, i.head_size), 0.3)
               for n in range(i.n_layer)}, str(ai00))
    pile = str(files("resources") / "tokenizers" / "20B_tokenizer.json")
    greedy = engine.SamplerSettings(temperature=0, presence_penalty=0, frequency_penalty=0)
    args = ["--temperature", "0", "--presence-penalty", "0", "--frequency-penalty", "0"]
    assert main(["generate", "--model", str(world_ckpt), "--prompt", "Hello", "-n", "5", "--tokenizer", pile,
                 "--state", str(ai00), *args]) == 0
    out = capsys.readouterr().out
    expected = engine.generate(world_model, engine.load_tokenizer(pile), "Hello", settings=greedy, max_tokens=5,
                               state=State.from_tuning_file(ai00, world_model)).run()
    assert out.rstrip("\n") == expected


def test_an_unknown_template_is_refused_by_the_parser(world_ckpt, capsys):
    from engine.tools.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["chat", "--model", str(world_ckpt), "--template", "alpaca"])
    assert exit_.value.code == 2 and "invalid choice: 'alpaca'" in capsys.readouterr().err


def test_a_tuning_file_named_for_another_generation_is_an_error(world_ckpt, world_model, tmp_path, capsys):
    from engine.tools.cli import main

    i = world_model.info
    v6 = tmp_path / "rwkv-x060-tuned.pth"
    torch.save({f"blocks.{n}.att.time_state": torch.zeros(i.n_head, i.head_size, i.head_size)
                for n in range(i.n_layer)}, v6)
    assert main(["generate", "--model", str(world_ckpt), "--prompt", "Hi", "-n", "2", "--state", str(v6)]) == 2
    assert "named for RWKV-6, but the loaded model is RWKV-7" in capsys.readouterr().err


def test_chat_commands_answer_and_only_messages_reach_the_model(world_ckpt, tmp_path, capsys, monkeypatch):
    from engine.text.chat import ChatSession
    from engine.tools.cli import main

    sent = []
    send = ChatSession.send
    monkeypatch.setattr(ChatSession, "send", lambda self, text, **kw: sent.append(text) or send(self, text, **kw))
    typed = f"/regen\n/bogus words\n//hi\n/save {tmp_path}\nHello\n/quit\n"
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO(typed))
    assert main(["chat", "--model", str(world_ckpt), "-n", "3", "--temperature", "0"]) == 0
    err = capsys.readouterr().err
    assert "[There is no user message to answer.]" in err                        # /regen first: the chat goes on
    assert "[Unknown command /bogus; /help lists them. To send the line as a message, begin it with //]" in err
    assert f"[could not save the state to {tmp_path}:" in err                     # nor does a failed /save end it
    assert sent == ["/hi", "Hello"]


def test_chat_reset_says_so_and_starts_over(world_ckpt, world_model, tmp_path, capsys, monkeypatch):
    from engine.tools.cli import main

    saved = tmp_path / "chat.safetensors"
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("First\n/reset\nHi there\n/quit\n"))
    assert main(["chat", "--model", str(world_ckpt), "-n", "5", "--temperature", "0", "--save-state",
                 str(saved)]) == 0
    assert "[new chat: the conversation so far is forgotten]" in capsys.readouterr().err
    tokens = engine.load_tokenizer("world").encode("User: Hi there\n\nAssistant:")
    assert State.load(saved, world_model).tokens_seen == len(tokens) + 5
