"""Hostile model files (bench/hostile_models.py makes about 300; `python -m bench.hostile_models` runs the CLI on
all of them): a sample loaded in-process. Each is read, or refused with lstmtext's one-line error — never another
exception, never over 5 s, never more than 1 GB, and damaged weights are never taken for good ones. A header used
to size the network before any check: `"layers": 10**30` hung, `"vocab_size": 2e7` allocated 5 GB."""

from __future__ import annotations

import resource
import time

import pytest
import torch

import lstmtext
from bench.hostile_models import mutations
from lstmtext.core.bundle import load_bundle, load_header
from lstmtext.errors import LstmtextError

SAMPLE_EVERY = 4


def test_a_sample_of_hostile_model_files_is_read_or_refused_cleanly(tiny_model_path, tmp_path):
    original = load_bundle(tiny_model_path).weights
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cases = list(mutations(tiny_model_path))
    assert len(cases) >= 250
    refused = 0
    for what, data, must_refuse in cases[::SAMPLE_EVERY]:
        path = tmp_path / "hostile.lstm"
        path.write_bytes(data)
        started = time.monotonic()
        try:
            load_header(path)
            loaded = lstmtext.load(path)
        except LstmtextError as error:
            refused += 1
            assert len(str(error).splitlines()) == 1, what
        else:
            assert not must_refuse, what
            weights = dict(loaded.model.state_dict())
            assert all(torch.equal(weights[name], tensor) for name, tensor in original.items()), what
            assert loaded.complete("The", n=1, max_tokens=2) is not None
        assert time.monotonic() - started < 5, what
    assert refused > 20
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before
    assert grown_kb < 1024 * 1024


@pytest.mark.parametrize("field, value, words", [
    ("layers", 10 ** 30, ["model.layers", "not a whole number"]),
    ("vocab_size", 2e7, ["model.vocab_size", "20000000.0"]),
    ("vocab_size", 20_000_000, ["vocab_size is 20000000 where the weights have"]),
    ("hidden_size", 10 ** 9, ["hidden_size is 1000000000 where the weights have"]),
    ("layers", 40, ["layers is 40 where the weights have 1"]),
])
def test_a_header_cannot_size_the_network_beyond_its_weights(run, trained, tmp_path, field, value, words):
    from .conftest import assert_one_line_error
    from .test_hostile_input import rewrite_header

    path = rewrite_header(trained, tmp_path / "big.lstm",
                          lambda header: {**header, "model": {**header["model"], field: value}})
    started = time.monotonic()
    for command in (["complete", "x"], ["repl"]):
        assert_one_line_error(run(*command, "--model", path), 2, "damaged", *words)
    assert time.monotonic() - started < 10


@pytest.mark.parametrize("change, words", [
    (lambda header: {**header, "corpus": {**header["corpus"], "chars": "x"}}, ["'corpus.chars' is a string"]),
    (lambda header: {**header, "metrics": {**header["metrics"], "best_step": -3}}, ["'metrics.best_step' is -3"]),
    (lambda header: {**header, "run": {**header["run"], "parameters": True}}, ["'run.parameters' is True"]),
    (lambda header: {**header, "adapted": [{"texts": [{"chars": "many"}]}]}, ["'adapted.texts.chars'"]),
    (lambda header: {**header, "adaptation": {**header["adaptation"], "window": 0}}, ["window"]),
])
def test_a_header_field_of_the_wrong_type_is_one_line_in_every_command(run, trained, tmp_path, change, words):
    from .conftest import assert_one_line_error
    from .test_hostile_input import rewrite_header

    path = rewrite_header(trained, tmp_path / "odd.lstm", change)
    for command in (["info"], ["complete", "x"]):
        assert_one_line_error(run(*command, "--model", path), 2, "damaged header", *words)


@pytest.mark.parametrize("metadata, words", [
    (dict(format_version="²"), ["format_version '²'"]),
    (dict(format_version="9" * 5000), ["format_version"]),
    (dict(header='{"model": ' * 100_000), ["damaged header"]),
    (dict(header='{"model": {"vocab_size": ' + "9" * 5000 + "}}"), ["damaged header"]),
])
def test_metadata_python_cannot_read_is_one_line(run, trained, tmp_path, metadata, words):
    from .conftest import assert_one_line_error
    from .test_hostile_input import rewrite_metadata

    path = rewrite_metadata(trained, tmp_path / "odd.lstm", **metadata)
    for command in (["info"], ["complete", "x"]):
        assert_one_line_error(run(*command, "--model", path), 2, *words)


def test_a_file_of_this_format_without_its_checksum_is_refused(run, trained, tmp_path):
    from safetensors import safe_open
    from safetensors.torch import save_file

    from .conftest import assert_one_line_error

    with safe_open(str(trained), framework="pt") as handle:
        metadata = {k: v for k, v in handle.metadata().items() if k != "checksum"}
        tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    name = next(name for name in tensors if name.startswith("weights.rnn"))
    tensors[name] = tensors[name] + 1  # damaged, and nothing to tell
    save_file(tensors, str(tmp_path / "bare.lstm"), metadata=metadata)
    assert_one_line_error(run("complete", "x", "--model", tmp_path / "bare.lstm"), 2, "no checksum")
    save_file(tensors, str(tmp_path / "old.lstm"), metadata={**metadata, "format_version": "1"})
    assert run("complete", "x", "--model", tmp_path / "old.lstm", "--max-tokens", "2").exit_code == 0  # older


def test_the_repl_s_model_command_refuses_a_hostile_file_and_carries_on(trained, tmp_path):
    import io

    from rich.console import Console

    from lstmtext.cli.repl import Repl

    from .test_hostile_input import rewrite_header

    path = rewrite_header(trained, tmp_path / "big.lstm",
                          lambda header: {**header, "model": {**header["model"], "layers": 10 ** 30}})
    console = Console(file=io.StringIO(), width=200)
    repl = Repl(lstmtext.load(trained), console, load_model=lstmtext.load)
    lines = iter([f":model {path}", "The", ":quit"])
    assert repl.run(lambda prompt: next(lines)) == 0
    shown = console.file.getvalue()
    assert "model.layers" in shown and "1 " in shown
