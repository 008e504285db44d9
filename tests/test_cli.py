import json

import pytest

from .conftest import CLI_TINY, assert_one_line_error

COMMANDS = ["tokenize", "train", "complete", "generate", "eval", "repl", "models", "info", "inspect", "experiment",
            "export"]
TINY = CLI_TINY


@pytest.fixture()
def lord_model_path(lord_models):
    return lord_models["char"].path


def test_help_lists_every_command(run):
    result = run("--help")
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.stdout


def test_help_is_rewrapped_and_shows_no_type_after_a_flag(run):
    for args in (["--help"], ["train", "--help"], ["complete", "--help"]):
        result = run(*args)
        assert result.exit_code == 0 and "<bool>" not in result.stdout
    train_help = run("train", "--help").stdout
    # the docstring's own line breaks are gone: the sentence is wrapped to the terminal
    assert "progress. Ctrl-C stops after the current step" in " ".join(train_help.split())
    assert "--install-completion" in run("--help").stdout


def test_shell_completion_offers_the_stored_model_names(trained, user_store, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = Path(sys.executable).parent / "lstmtext"
    if not script.exists():
        pytest.skip("the lstmtext script is not installed next to this Python")
    env = {**os.environ, "LSTMTEXT_HOME": str(user_store.root), "_LSTMTEXT_COMPLETE": "complete_bash",
           "COMP_WORDS": "lstmtext complete x --model ti", "COMP_CWORD": "4"}
    done = subprocess.run([str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["tiny"], done.stdout + done.stderr


def test_tokenize_writes_the_model_and_shows_stats(run, tiny_corpus, tmp_path):
    out = tmp_path / "tok.model"
    result = run("tokenize", tiny_corpus, "--level", "word", "--vocab-size", "200", "--out", out)
    assert result.exit_code == 0, result.output
    assert out.exists() and (tmp_path / "tok.fallback.model").exists()
    for label in ("vocab size", "chars per token", "coverage", "most frequent"):
        assert label in result.stdout


def test_train_saves_a_default_model_that_every_command_uses(run, trained, tiny_corpus):
    assert trained.exists()
    models = run("models")
    assert models.exit_code == 0 and "tiny" in models.stdout and "*" in models.stdout
    info = run("info", "--json")
    assert json.loads(info.stdout)["model"]["hidden_size"] == 16
    assert "1-layer LSTM" in run("info").stdout
    completed = run("complete", "When there is fire", "--max-tokens", "12")
    assert completed.exit_code == 0 and completed.stdout.startswith("When there is fire")
    assert len(completed.stdout.rstrip("\n")) > len("When there is fire")
    evaluation = run("eval", tiny_corpus, "--json")
    assert set(json.loads(evaluation.stdout)) == {"bits_per_char", "nats_per_char", "perplexity", "tokens", "chars",
                                                  "seconds", "tokens_per_second"}
    assert "bits per char" in run("eval", tiny_corpus).stdout


def test_generate_with_a_seed_prints_the_same_text_twice(run, trained):
    first, second, other = (run("generate", "--length", "40", "--seed", s) for s in (1, 1, 2))
    assert first.exit_code == 0 and first.stdout == second.stdout != other.stdout
    assert first.stdout.strip()  # 40 tokens; byte pieces make the character count vary


def test_prompt_from_stdin_drops_the_newline_echo_adds(run, trained):
    result = run("complete", "-", "-n", "1", "--max-tokens", "3", "--until", "none", input="The panda\n")
    assert result.exit_code == 0 and result.stdout.startswith("The panda")
    assert json.loads(run("complete", "-", "--json", input="The panda\n").stdout)["prompt"] == "The panda"


def test_complete_json_has_ranked_completions_settings_and_timing(run, lord_model_path):
    result = run("complete", "my lo", "-n", "4", "--json", "--model", lord_model_path)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["prompt"] == "my lo" and data["retyped"] == " lo"
    completions = data["completions"]
    probabilities = [c["probability"] for c in completions]
    assert len({c["text"] for c in completions}) == 4 and completions[0]["text"].startswith("rd")
    assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) <= 1
    for completion in completions:
        assert "".join(t["text"] for t in completion["tokens"]).endswith(completion["text"])
        assert all(t["log_prob"] <= 0 for t in completion["tokens"])
    settings = data["settings"]
    assert settings["n"] == 4 and settings["beam_width"] == 8 and settings["until"] == "sentence"
    assert set(data["timing_ms"]) == {"load", "complete", "total"}


def test_complete_in_a_pipe_prints_one_plain_line_per_completion(run, lord_model_path):
    result = run("complete", "Yes, my lo", "-n", "3", "--model", lord_model_path)
    lines = result.stdout.splitlines()
    assert result.exit_code == 0 and len(lines) == 3 and "\x1b" not in result.stdout
    texts, probabilities = zip(*(line.split("\t") for line in lines))
    assert texts[0].startswith("Yes, my lord") and all(t.startswith("Yes, my lo") for t in texts)
    assert [float(p) for p in probabilities] == sorted((float(p) for p in probabilities), reverse=True)


def test_no_color_means_no_escape_codes_even_on_a_terminal(run, lord_model_path, monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")  # Rich then treats the output as a terminal
    coloured = run("complete", "Yes, my lo", "--model", lord_model_path)
    assert "probability" in coloured.stdout and "\x1b[" in coloured.stdout
    monkeypatch.setenv("NO_COLOR", "1")
    plain = run("complete", "Yes, my lo", "--model", lord_model_path)
    assert "probability" in plain.stdout and "rd" in plain.stdout and "\x1b" not in plain.stdout


def test_sampled_completions_with_a_seed_repeat(run, lord_model_path):
    first, second = (run("complete", "My", "--sample", "--seed", "3", "--temperature", "0.7", "--model",
                         lord_model_path) for _ in range(2))
    assert first.exit_code == 0 and first.stdout == second.stdout and first.stdout.startswith("My")


def test_repl_completes_and_changes_settings(run, trained):
    result = run("repl", input=":max-tokens 3\n:until none\n:settings\nThe panda\n:bogus 1\n:quit\n")
    assert result.exit_code == 0, result.output
    assert "max-tokens=3" in result.stdout and "The panda" in result.stdout
    assert "unknown command :bogus" in result.stdout


@pytest.mark.parametrize("make, words", [
    (lambda d: d / "missing.txt", ["not found"]),
    (lambda d: (d / "empty").mkdir() or d / "empty", ["no text files"]),
    (lambda d: (d / "empty.txt", (d / "empty.txt").write_text(""))[0], ["is empty"]),
    (lambda d: (d / "bin.txt", (d / "bin.txt").write_bytes(b"\x00\x01\x02"))[0], ["binary"]),
    (lambda d: (d / "latin.txt", (d / "latin.txt").write_bytes(b"caf\xe9"))[0], ["UTF-8", "iconv"]),
    (lambda d: (d / "short.txt", (d / "short.txt").write_text("Too short.\n"))[0], ["too short", "--seq-len"]),
])
def test_bad_corpora_fail_with_one_line_and_keep_the_model(run, trained, tmp_path, make, words):
    before = trained.read_bytes()
    result = run("train", make(tmp_path), "--name", "tiny")
    assert_one_line_error(result, 2, *words)
    assert trained.read_bytes() == before


def test_bad_corpus_for_tokenize_and_eval(run, trained, tmp_path):
    assert_one_line_error(run("tokenize", tmp_path / "nope.txt"), 2, "not found")
    assert_one_line_error(run("eval", tmp_path / "nope.txt"), 2, "not found")


@pytest.mark.parametrize("args, words", [
    (["complete", "x"], ["no model yet", "lstmtext train"]),
    (["complete", "x", "--model", "ghost"], ["no model named 'ghost'"]),
    (["info", "--model", "nowhere/x.lstm"], ["not found"]),
])
def test_missing_models_fail_with_one_line(run, args, words):
    assert_one_line_error(run(*args), 2, *words)


def test_a_pickle_model_is_refused_by_the_cli(run, tmp_path):
    import torch

    path = tmp_path / "evil.pt"
    torch.save({"x": 1}, path)
    assert_one_line_error(run("complete", "x", "--model", path), 2, "pickle")


def test_resume_without_a_checkpoint_fails_with_one_line(run, tiny_corpus, user_store):
    assert_one_line_error(run("train", tiny_corpus, "--resume", *TINY), 2, "no checkpoint to resume",
                          "without --resume")
    assert_one_line_error(run("train", tiny_corpus, "--checkpoint-every", "0"), 2, "--checkpoint-every")


@pytest.mark.parametrize("args, words", [
    (["--level", "morpheme"], ["unknown --level 'morpheme'", "char, word, bpe, unigram"]),
    (["--cell", "transformer"], ["unknown --cell 'transformer'"]),
    (["--lr", "-1"], ["--lr"]),
    (["--max-time", "0"], ["--max-time"]),
    (["--name", "../x"], ["not a usable model name"]),
    (["--precision", "fp16", "--device", "cpu"], ["fp16 needs a CUDA GPU", "fp32 or bf16"]),
    (["--layers", "0"], ["--layers 0"]),
    (["--hidden", "0"], ["--hidden 0"]),
])
def test_bad_options_fail_with_one_line(run, tiny_corpus, args, words):
    assert_one_line_error(run("train", tiny_corpus, *args), 2, *words)


def test_bad_sampling_options_fail_with_one_line(run, trained):
    assert_one_line_error(run("generate", "--temperature", "0"), 2, "temperature")
    assert_one_line_error(run("complete", "x", "--until", "forever"), 2, "--until")
    assert_one_line_error(run("complete", "x", "-n", "0"), 2, "-n 0")
    assert_one_line_error(run("complete", "x", "-n", "5", "--beam", "2"), 2, "--beam 2")
    assert_one_line_error(run("complete", "x", "--sample", "--top-p", "2"), 2, "top-p")


NO_TORCH_CHECK = """
import sys
from lstmtext.cli import main
sys.argv = ["lstmtext", *sys.argv[1:]]
try:
    main()
except SystemExit as leaving:
    print("exit", leaving.code, "torch imported:", "torch" in sys.modules)
"""


@pytest.mark.parametrize("args", [["--help"], ["train", "missing.txt"], ["train", "x.txt", "--level", "bogus"],
                                  ["complete", "x", "--model", "ghost"], ["complete", "x", "-n", "0"],
                                  ["generate", "--temperature", "0"], ["eval", "missing.txt"],
                                  ["info", "--model", "ghost"], ["tokenize", "missing.txt"], ["models"],
                                  ["inspect", "x", "--show", "bogus"], ["inspect", "x", "--model", "ghost"],
                                  ["export", "-f", "tflite"], ["export", "-f", "onnx", "--model", "ghost"],
                                  ["experiment", "long-range", "--gaps", "x"]])
def test_help_and_errors_that_need_no_model_do_not_import_torch(args, tmp_path):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", NO_TORCH_CHECK, *args], capture_output=True, text=True, cwd=tmp_path,
                          env={"LSTMTEXT_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"})
    assert "torch imported: False" in done.stdout, done.stdout + done.stderr


def test_an_interrupted_run_says_how_to_resume_in_flags(run, tiny_corpus, monkeypatch):
    import lstmtext.trainer
    from lstmtext.errors import TrainingInterrupted

    def interrupted(*args, **kwargs):
        raise TrainingInterrupted(7, "run.ckpt")

    monkeypatch.setattr(lstmtext.trainer, "train", interrupted)
    result = run("train", tiny_corpus, *TINY)
    assert result.exit_code == 130
    first, second = result.stderr.strip().splitlines()
    assert first == ("error: interrupted after step 7; the run is saved in run.ckpt — add --resume to the same "
                     "command to go on")
    assert second.startswith("resume with: lstmtext ") and second.endswith(" --resume")
