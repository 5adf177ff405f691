"""python -m engine's command line: a value no run could use is refused as it is read, with a message that
names the flag and what it takes (exit code 2), before any model loads."""

from __future__ import annotations

import socket

import pytest

from engine.tools.cli import build_parser, main


def _refusal(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


@pytest.mark.parametrize("argv, message", [
    (["serve", "--port", "-1"], "argument --port: must be a whole number from 0 to 65535, got -1"),
    (["serve", "--port", "70000"], "argument --port: must be a whole number from 0 to 65535, got 70000"),
    (["serve", "--port", "http"], "argument --port: must be a whole number from 0 to 65535, got 'http'"),
    (["serve", "--max-tokens", "-1"], "argument --max-tokens: must be a whole number at least 1, got -1"),
    (["serve", "--max-tokens", "0"], "argument --max-tokens: must be a whole number at least 1, got 0"),
    (["serve", "--state-cache-mb", "-5"], "argument --state-cache-mb: must be a whole number at least 0, got -5"),
    (["serve", "--max-running", "0"], "argument --max-running: must be a whole number at least 1, got 0"),
    (["serve", "--max-queued", "-1"], "argument --max-queued: must be a whole number at least 0, got -1"),
    (["chat", "--max-tokens", "-5"], "argument --max-tokens/-n: must be a whole number at least 1, got -5"),
    (["chat", "-n", "0"], "argument --max-tokens/-n: must be a whole number at least 1, got 0"),
    (["generate", "-p", "Hi", "--max-tokens", "-3"],
     "argument --max-tokens/-n: must be a whole number at least 1, got -3"),
    (["chat", "--presence-penalty", "-100"], "argument --presence-penalty: must be a number from -2 to 2, got -100"),
    (["generate", "-p", "Hi", "--frequency-penalty", "3"],
     "argument --frequency-penalty: must be a number from -2 to 2, got 3"),
    (["chat", "--temperature", "nan"], "argument --temperature: must be a number from 0 to 2, got nan"),
    (["chat", "--top-p", "1.5"], "argument --top-p: must be a number from 0 to 1, got 1.5"),
    (["chat", "--top-k", "-1"], "argument --top-k: must be a whole number at least 0, got -1"),
    (["chat", "--penalty-decay", "0"], "argument --penalty-decay: must be a number above 0 and at most 1, got 0"),
    (["chat", "--think", "maybe"], "argument --think: invalid choice: 'maybe'"),
    (["chat", "--preset", "Wild"], "argument --preset: invalid choice: 'Wild'"),
    (["bench", "--repeat", "0"], "argument --repeat: must be a whole number at least 1, got 0"),
    (["quality", "--tokens", "0"], "argument --tokens: must be a whole number at least 1, got 0"),
])
def test_impossible_values_are_refused_naming_the_flag_and_its_range(argv, message, capsys):
    line = _refusal([argv[0], "--model", "demo", *argv[1:]], capsys)
    assert message in line


def test_paths_that_cannot_be_what_a_flag_needs_are_refused(tmp_path, capsys):
    missing, a_file = tmp_path / "nowhere", tmp_path / "notes.txt"
    a_file.write_text("notes")
    assert _refusal(["serve", "-m", "demo", "--states", str(missing)], capsys).endswith(
        f"argument --states: no folder at {missing}")
    assert _refusal(["serve", "-m", "demo", "--states", str(a_file)], capsys).endswith(
        f"argument --states: {a_file} is a file, not a folder")
    assert _refusal(["serve", "-m", "demo", "--data-dir", str(a_file)], capsys).endswith(
        f"argument --data-dir: {a_file} is a file, not a folder")
    assert _refusal(["chat", "-m", "demo", "--state", "/nonexistent.pth"], capsys).endswith(
        "argument --state: no state file at /nonexistent.pth")
    assert _refusal(["generate", "-m", "demo", "-p", "Hi", "--state", str(tmp_path)], capsys).endswith(
        f"argument --state: {tmp_path} is a folder, not a state file")
    assert _refusal(["chat", "-m", "demo", "--save-state", str(tmp_path)], capsys).endswith(
        f"argument --save-state: {tmp_path} is a folder, not a state file")


def test_the_edges_of_each_range_are_accepted(tmp_path):
    parser = build_parser()
    serve = parser.parse_args(["serve", "-m", "demo", "--port", "0", "--max-tokens", "1", "--state-cache-mb", "0",
                               "--max-queued", "0", "--states", str(tmp_path), "--data-dir", str(tmp_path / "new")])
    assert (serve.port, serve.max_tokens, serve.state_cache_mb, serve.states) == (0, 1, 0, str(tmp_path))
    assert parser.parse_args(["serve", "-m", "demo", "--port", "65535"]).port == 65535
    chat = parser.parse_args(["chat", "-m", "demo", "-n", "1", "--temperature", "0", "--top-p", "1",
                              "--presence-penalty", "-2", "--frequency-penalty", "2", "--penalty-decay", "1",
                              "--think", "think a bit", "--preset", "RWKV Runner"])
    assert (chat.max_tokens, chat.presence_penalty, chat.think, chat.preset) == (1, -2.0, "think a bit", "RWKV Runner")


# value given to the CLI flag --NAME and to the server's field NAME, at and just past each end of its range
_EDGES = {"temperature": ("0", "2", "-0.01", "2.01"), "top_p": ("0", "1", "-0.01", "1.01"),
          "top_k": ("0", "40", "-1"), "presence_penalty": ("-2", "2", "-2.01", "2.01"),
          "frequency_penalty": ("-2", "2", "-2.01", "2.01"), "penalty_decay": ("0", "1e-9", "1", "1.01"),
          "seed": (str(-(1 << 63) - 1), str(-(1 << 63)), "-1", str((1 << 64) - 1), str(1 << 64))}


@pytest.mark.parametrize("field", _EDGES)
def test_sampler_flags_take_the_ranges_the_server_takes(field, capsys):
    from engine.server.protocol import ApiError, Limits, parse_chat
    from engine.service.views import ModelView

    view = ModelView("tiny", "/nowhere", 7, 1, 1, 4096, "cpu", "fp32", "ref", 1, "fp", "tiny", 1)
    for text in _EDGES[field]:
        value = float(text) if "." in text or "e" in text else int(text)
        try:
            parse_chat({"messages": [{"role": "user", "content": "Hi"}], field: value}, view, Limits(100), [])
            server_takes = True
        except ApiError:
            server_takes = False
        try:
            build_parser().parse_args(["chat", "-m", "demo", f"--{field.replace('_', '-')}", text])
            cli_takes = True
        except SystemExit:
            cli_takes = False
        assert cli_takes == server_takes, (field, text, capsys.readouterr().err)


def test_negative_seeds_wrap_as_the_server_wraps_them():
    from engine.tools.cli import _settings

    args = build_parser().parse_args(["chat", "-m", "demo", "--seed", "-1"])
    assert _settings(args).seed == (1 << 64) - 1


def test_the_names_spelled_out_for_help_are_the_engines():
    from engine.text.chat import THINK_MODES
    from engine.text.sampling import PRESETS
    from engine.tools.cli import PRESET_NAMES, THINK_MODE_NAMES

    assert THINK_MODE_NAMES == tuple(THINK_MODES)
    assert PRESET_NAMES == tuple(PRESETS)


def test_help_describes_every_argument(capsys):
    with pytest.raises(SystemExit):
        main(["info", "--help"])
    assert "bundled name" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    assert "0: any free port" in capsys.readouterr().out


def test_a_port_in_use_is_refused_before_the_model_loads(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # a model that does not exist: had it been looked for first, that would be the error
        assert main(["serve", "--model", "no-such-model", "--port", str(port)]) == 2
    assert f"error: Cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def test_a_think_mode_is_refused_for_a_model_not_trained_on_it_before_loading(world_ckpt, monkeypatch, capsys):
    def no_loading(args):
        raise AssertionError("the model was loaded before the refusal")

    monkeypatch.setattr("engine.tools.cli._load", no_loading)
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("a question\n"))
    assert main(["chat", "--model", str(world_ckpt), "--think", "think"]) == 2
    err = capsys.readouterr().err
    assert "error: --think think: think modes are for RWKV-7 G0/G1 models" in err
    assert "would garble its replies" in err


def test_a_think_mode_is_taken_for_a_g1_model(world_ckpt, tmp_path, monkeypatch, capsys):
    g1 = tmp_path / "rwkv7-g1a-tiny.pth"
    g1.symlink_to(world_ckpt)
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("Hi\n/quit\n"))
    assert main(["chat", "--model", str(g1), "--think", "think", "-n", "3"]) == 0
    assert "Assistant: " in capsys.readouterr().out
