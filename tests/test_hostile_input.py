"""Bad input on purpose: every case gets one clear line and a non-zero exit code, loses nothing — or works, where
working is what a user would expect. Each case here once crashed with a traceback, hung, answered wrongly without
a word, or threw work away."""

from __future__ import annotations

import json
import os
import threading

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

import lstmtext
import lstmtext.api
from lstmtext.core.bundle import Bundle, load_bundle, save_bundle
from lstmtext.errors import BadModelFile
from lstmtext.options import TrainConfig

from .conftest import CLI_TINY, Recorder, assert_one_line_error

TINY = CLI_TINY


def rewrite_metadata(source, target, **changes):
    """A copy of a model file with some of its safetensors metadata replaced (the tensors are untouched)."""
    with safe_open(str(source), framework="pt") as handle:
        metadata = {**handle.metadata(), **changes}
        tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    save_file(tensors, str(target), metadata=metadata)
    return target


def rewrite_header(source, target, change):
    with safe_open(str(source), framework="pt") as handle:
        header = json.loads(handle.metadata()["header"])
    return rewrite_metadata(source, target, header=json.dumps(change(header)))


# --- numbers that are not settings -----------------------------------------------------------------------------

@pytest.mark.parametrize("args, words", [
    (["--max-time", "inf"], ["--max-time inf", "finite"]),
    (["--lr", "inf"], ["--lr inf", "finite"]),
    (["--lr", "nan"], ["--lr nan"]),
    (["--seed", "99999999999999999999999"], ["--seed"]),
    (["--name", ""], ["not a usable model name"]),
    (["--name", "x" * 300], ["300 characters"]),
])
def test_bad_training_numbers_and_names_fail_at_once(run, tiny_corpus, args, words):
    assert_one_line_error(run("train", tiny_corpus, *args), 2, *words)


def test_a_model_too_big_for_memory_is_refused_before_it_is_built(run, tiny_corpus):
    result = run("train", tiny_corpus, "--hidden", "100000", "--max-steps", "1")
    assert_one_line_error(result, 2, "needs about", "TB", "smaller --hidden")


@pytest.mark.parametrize("args, words", [
    (["generate", "--seed", "99999999999999999999999"], ["--seed"]),
    (["generate", "--temperature", "inf"], ["temperature inf", "finite"]),
    (["complete", "x", "--sample", "--seed", "99999999999999999999999"], ["--seed"]),
    (["complete", "x", "--temperature", "-1"], ["--temperature applies only to sampled", "--sample"]),
    (["complete", "x", "--sample", "--temperature", "-1"], ["temperature -1.0 must be positive"]),
    (["complete", "x", "--beam", "1000000"], ["--beam 1000000", "256 or less"]),
    (["complete", "x", "-n", "100000"], ["-n 100000", "100 or less"]),
    (["complete", "x", "--max-tokens", "10000000"], ["--max-tokens"]),
    (["complete", "caf\udce9 au lait"], ["not valid UTF-8"]),
    (["inspect", "caf\udce9"], ["not valid UTF-8"]),
])
def test_bad_requests_to_a_model_fail_with_one_line(run, trained, args, words):
    assert_one_line_error(run(*args), 2, *words)


def test_text_on_stdin_that_is_not_utf8_fails_with_one_line(run, trained):
    assert_one_line_error(run("complete", "-", input=b"caf\xe9\n"), 2, "stdin", "not valid UTF-8")


def test_a_megabyte_prompt_is_read_from_its_end(run, trained, corpus_text):
    prompt = (corpus_text * (1_000_000 // len(corpus_text) + 1))[:1_000_000] + "The panda"
    result = run("complete", "-", "-n", "2", "--max-tokens", "5", input=prompt)
    assert result.exit_code == 0, result.output
    assert "within its last 20,000" in result.stderr
    assert len(result.stdout.splitlines()) == 2


# --- damaged model files and stores ---------------------------------------------------------------------------

@pytest.mark.parametrize("change, words", [
    (dict(format_version="abc"), ["format_version"]),
    (dict(header='"a string"'), ["it is a string"]),
    (dict(header="[1, 2]"), ["it is a list"]),
    (dict(header="null"), ["it is null"]),
])
@pytest.mark.parametrize("command", [["complete", "x"], ["info"], ["export", "-f", "torchscript"], ["repl"]])
def test_a_model_file_with_a_damaged_header_fails_with_one_line(run, trained, tmp_path, change, words, command):
    path = rewrite_metadata(trained, tmp_path / "bad.lstm", **change)
    assert_one_line_error(run(*command, "--model", path), 2, "damaged header", *words)


@pytest.mark.parametrize("section", ["model", "metrics", "tokenizer"])
@pytest.mark.parametrize("value", ["text", [1], None])
def test_header_sections_of_the_wrong_type_fail_with_one_line(run, trained, tmp_path, section, value):
    path = rewrite_header(trained, tmp_path / "bad.lstm", lambda header: {**header, section: value})
    for command in (["complete", "x", "--max-tokens", "2"], ["info"]):
        if section == "metrics" and value is None:  # no metrics: nothing to show, nothing wrong
            assert run(*command, "--model", path).exit_code == 0
        else:
            assert_one_line_error(run(*command, "--model", path), 2, "damaged header", section)


def test_info_leaves_out_what_the_header_does_not_say(run, trained, tmp_path):
    path = rewrite_header(trained, tmp_path / "bare.lstm",
                          lambda header: {k: v for k, v in header.items() if k not in ("corpus", "created")})
    result = run("info", "--model", path)
    assert result.exit_code == 0 and "None" not in result.stdout and "corpus" not in result.stdout


def test_weights_of_another_shape_fail_with_one_line(run, trained, tmp_path):
    bundle = load_bundle(trained)
    bundle.weights["rnn.weight_ih_l0"] = torch.zeros(64, 99)
    save_bundle(tmp_path / "shape.lstm", bundle)
    assert_one_line_error(run("complete", "x", "--model", tmp_path / "shape.lstm"), 2, "rnn.weight_ih_l0 is 64×99",
                          "need 64×16")


def test_weights_that_are_not_finite_are_refused(run, trained, tmp_path):
    bundle = load_bundle(trained)
    bundle.weights["decoder.bias"][3] = float("nan")
    save_bundle(tmp_path / "nan.lstm", bundle)
    assert_one_line_error(run("complete", "x", "--model", tmp_path / "nan.lstm"), 2, "not finite", "decoder.bias")


def test_bytes_flipped_inside_a_model_file_are_noticed(run, trained, tmp_path):
    data = bytearray(trained.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(255 - b for b in data[middle:middle + 64])
    damaged = tmp_path / "flipped.lstm"
    damaged.write_bytes(bytes(data))
    assert_one_line_error(run("complete", "x", "--model", damaged), 2, "damaged", "checksum")


def test_a_safetensors_header_length_that_looks_like_a_pickle_opcode_is_not_called_a_pickle(trained, tmp_path):
    data = trained.read_bytes()
    length = int.from_bytes(data[:8], "little")
    wanted = length + (0x0280 - length) % 0x10000  # starts with b"\x80\x02", a pickle's protocol-2 opcode
    header = data[8:8 + length].ljust(wanted, b" ")
    odd = tmp_path / "odd.lstm"
    odd.write_bytes(wanted.to_bytes(8, "little") + header + data[8 + length:])
    assert odd.read_bytes()[:2] == b"\x80\x02"
    assert lstmtext.load(odd).complete("The", n=1, max_tokens=3)


def test_a_binary_default_model_pointer_fails_with_one_line(run, trained, user_store):
    (user_store.root / "default-model").write_bytes(b"\xff\xfe\x00\x81")
    assert_one_line_error(run("complete", "x"), 2, "default-model file", "damaged", "models --default")
    assert run("models").exit_code == 0


def test_a_deleted_default_model_is_named_and_another_can_be_picked(run, trained, tiny_corpus, user_store):
    assert run("train", tiny_corpus, "--name", "other", *TINY).exit_code == 0
    user_store.path_for("other").unlink()
    assert_one_line_error(run("complete", "x"), 2, "the default model 'other' is gone", "models --default")
    assert run("models", "--default", "tiny").exit_code == 0
    assert run("complete", "x", "--max-tokens", "2").exit_code == 0
    assert_one_line_error(run("models", "--default", "ghost"), 2, "no model named 'ghost'")


def test_a_dangling_link_in_the_models_folder_is_skipped(run, trained, user_store):
    (user_store.models_dir / "gone.lstm").symlink_to(user_store.models_dir / "nowhere.lstm")
    result = run("models")
    assert result.exit_code == 0 and "tiny" in result.stdout and "gone" not in result.stdout


# --- corpora that are not plain files ------------------------------------------------------------------------

def feed_fifo(path, text):
    """A writer for the FIFO at `path`, as a shell's process substitution would be."""
    def write():
        with open(path, "w", encoding="utf-8") as pipe:
            pipe.write(text)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    return writer


def test_a_fifo_nobody_writes_to_is_empty_at_once(run, trained, tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert_one_line_error(run("train", fifo, *TINY), 2, "is empty")
    assert_one_line_error(run("eval", fifo), 2, "is empty")


def test_a_corpus_from_a_pipe_is_read_once_and_trained_on(run, tiny_corpus, tmp_path, user_store):
    fifo = tmp_path / "63"
    os.mkfifo(fifo)
    writer = feed_fifo(fifo, tiny_corpus.read_text(encoding="utf-8"))
    result = run("train", fifo, *TINY)
    writer.join(5)
    assert result.exit_code == 0, result.output
    assert "model 'piped'" in result.stdout and user_store.path_for("piped").is_file()
    assert lstmtext.load("piped").header.corpus.name == "piped.txt"
    assert not list(user_store.cache_dir.glob(".piped-*"))  # the copy is gone


def test_eval_reads_a_pipe(run, trained, tiny_corpus, tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    writer = feed_fifo(fifo, tiny_corpus.read_text(encoding="utf-8"))
    result = run("eval", fifo, "--json")
    writer.join(5)
    assert result.exit_code == 0 and json.loads(result.stdout)["chars"] > 5000


def test_a_utf16_corpus_is_named_with_its_conversion(run, tmp_path):
    corpus = tmp_path / "wide.txt"
    corpus.write_text("Some text in UTF-16.\n" * 20, encoding="utf-16")
    assert_one_line_error(run("train", corpus), 2, "UTF-16", "iconv -f utf-16")


def test_a_symlink_loop_is_called_a_loop(run, tmp_path):
    (tmp_path / "a.txt").symlink_to(tmp_path / "b.txt")
    (tmp_path / "b.txt").symlink_to(tmp_path / "a.txt")
    assert_one_line_error(run("train", tmp_path / "a.txt"), 2, "a loop of symbolic links")


def test_eval_works_where_the_token_cache_cannot_be_written(run, trained, tiny_corpus, monkeypatch):
    import lstmtext.core.corpus

    def read_only(*args):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(lstmtext.core.corpus, "_write_token_cache", read_only)
    result = run("eval", tiny_corpus, "--json")
    assert result.exit_code == 0, result.output and json.loads(result.stdout)["tokens"] > 5000


def test_a_failed_token_cache_write_leaves_no_temporary_file(tiny_corpus, tiny_model, tmp_path, monkeypatch):
    from lstmtext.core.corpus import encode_corpus
    from lstmtext.core.textfile import inspect_corpus

    def full_disk(texts):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tiny_model.tokenizer, "encode_batch", full_disk)
    with pytest.raises(OSError):
        encode_corpus(inspect_corpus(tiny_corpus), tiny_model.tokenizer, tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


# --- where results go --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", [["train", "{corpus}", *TINY], ["tokenize", "{corpus}"]])
def test_an_output_that_cannot_be_written_fails_before_any_work(run, tiny_corpus, tmp_path, command):
    args = [str(tiny_corpus) if a == "{corpus}" else a for a in command]
    assert_one_line_error(run(*args, "--out", tmp_path), 2, "is a folder")
    assert_one_line_error(run(*args, "--out", "/proc/x.lstm"), 2, "cannot write --out /proc/x.lstm")
    fifo = tmp_path / "special"
    os.mkfifo(fifo)  # stands for a device node: the rename at the end would replace it with a file
    assert_one_line_error(run(*args, "--out", fifo), 2, "not a regular file")
    assert fifo.is_fifo()


def test_export_refuses_a_special_file(run, trained, tmp_path):
    fifo = tmp_path / "special.pt"
    os.mkfifo(fifo)
    assert_one_line_error(run("export", "-f", "torchscript", "--out", fifo), 2, "not a regular file")
    assert fifo.is_fifo()


def test_a_batch_larger_than_the_corpus_allows_is_reported_as_used(tiny_corpus, tmp_path):
    notes = Recorder()
    result = lstmtext.train(tiny_corpus, training=TrainConfig(
        batch_size=100000, seq_len=16, max_steps=2, precision="fp32"), layers=1, hidden_size=16,
        out=tmp_path / "m.lstm", observer=notes)
    used = result.model.header.training["batch_size"]
    assert used < 1000 and f"batch {used} × 16 tokens (batch size 100,000 lowered" in " ".join(notes.notes)


# --- the REPL and pipes -------------------------------------------------------------------------------------------

class SlowWriter:
    """A model whose generated text is cut short by Ctrl-C after a few pieces."""

    path = "slow"

    def generate(self, prompt, options):
        yield "one "
        yield "two "
        raise KeyboardInterrupt

    def complete(self, prefix, options):
        return []


def test_ctrl_c_while_the_repl_writes_returns_to_the_prompt():
    import io

    from rich.console import Console

    from lstmtext.cli.repl import Repl

    console = Console(file=io.StringIO(), width=100)
    repl = Repl(SlowWriter(), console)
    lines = iter([":mode generate", "Once", ":mode complete", ":top-p 2", ":temperature nan", ":model [nowhere]",
                  ":quit"])
    repl.load_model = lambda name: lstmtext.load(name)
    assert repl.run(lambda prompt: next(lines)) == 0
    shown = console.file.getvalue()
    assert "one two" in shown and "(stopped)" in shown
    assert ":top-p 2.0 is outside (0, 1]" in shown
    assert ":temperature nan is not a finite number — pass e.g. :temperature 0.8" in shown
    assert "'[nowhere]'" in shown  # printed as it is, not taken for Rich markup


def test_a_repl_line_that_is_not_utf8_is_an_error_line(tiny_model):
    import io

    from rich.console import Console

    from lstmtext.cli.repl import Repl

    console = Console(file=io.StringIO(), width=100)
    repl = Repl(tiny_model, console)
    assert repl.suggest("caf\udce9") == ""
    assert repl.handle("caf\udce9") is True
    assert "not valid UTF-8" in console.file.getvalue()


def test_generate_into_a_closed_pipe_stops_quietly(trained, user_store):
    import subprocess
    import sys

    process = subprocess.Popen([sys.executable, "-m", "lstmtext", "generate", "--length", "100000"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env={**os.environ, "LSTMTEXT_HOME": str(user_store.root)})
    process.stdout.read(20)
    process.stdout.close()  # as `| head -c 20` does
    _, errors = process.communicate(timeout=120)
    assert process.returncode == 141 and errors == b""


def test_training_samples_show_control_characters_as_escapes():
    import io

    from rich.console import Console

    from lstmtext.cli.training_view import TrainDisplay
    from lstmtext.training.progress import EvalReport

    console = Console(file=io.StringIO())
    TrainDisplay(console).on_eval(EvalReport(1, 1.0, 2.7, 1.4, "a\x00b\x1b[2Jc\nd", True))
    log = console.file.getvalue()
    assert "\x00" not in log and "\x1b" not in log and "a\\x00b\\x1b[2Jc ⏎ d" in log


def test_a_pickle_is_still_refused(tmp_path):
    path = tmp_path / "evil.lstm"
    torch.save({"x": 1}, path)
    with pytest.raises(BadModelFile, match="pickle"):
        lstmtext.load(path)


def test_a_saved_bundle_carries_a_checksum_of_its_tensors(tmp_path):
    path = tmp_path / "m.lstm"
    save_bundle(path, Bundle({"w": torch.ones(2)}, {"model": {"vocab_size": 2}, "tokenizer": {"level": "char"}},
                             {"main": b"x"}))
    with safe_open(str(path), framework="pt") as handle:
        assert len(handle.metadata()["checksum"]) == 64


@pytest.mark.parametrize("command", [["train", "{path}", *TINY], ["eval", "{path}"], ["tokenize", "{path}"],
                                     ["complete", "x", "--context", "{path}"], ["adapt", "tiny", "{path}"]])
def test_a_corpus_that_cannot_be_read_is_one_line(run, trained, tiny_corpus, monkeypatch, command):
    """As a user other than root, `chmod 000 notes.txt` (os.access says no, as it does there; click checked it
    first and printed its usage box)."""
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: str(path) != str(tiny_corpus) and real_access(
        path, mode, **kw))
    args = [str(tiny_corpus) if arg == "{path}" else arg for arg in command]
    assert_one_line_error(run(*args), 2, "cannot be read (permission denied)", "chmod u+r")
