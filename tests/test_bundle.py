import os
import pickle

import pytest
import torch

import lstmtext
from lstmtext.core.bundle import Bundle, load_bundle, save_bundle
from lstmtext.errors import BadModelFile

from .conftest import PACKAGE_BUILTIN


def test_save_and_load_give_identical_logits(tiny_model, tmp_path):
    path = tmp_path / "copy.lstm"
    tiny_model.save(path)
    copy = lstmtext.load(path)
    tokens = torch.tensor([tiny_model.tokenizer.encode("When there is fire, there is smoke.")])
    with torch.no_grad():
        assert torch.equal(tiny_model.model(tokens)[0], copy.model(tokens)[0])
    assert copy.header == tiny_model.header
    assert copy.tokenizer.blobs() == tiny_model.tokenizer.blobs()


def test_model_file_holds_config_tokenizer_and_metadata(tiny_model_path):
    bundle = load_bundle(tiny_model_path)
    header = bundle.header
    assert header["model"]["hidden_size"] == 32 and header["tokenizer"]["level"] == "char"
    assert header["corpus"]["name"] == "tiny.txt" and header["corpus"]["chars"] > 5000
    assert header["lstmtext_version"] == lstmtext.__version__
    assert {"val_loss", "val_bits_per_char", "val_perplexity"} <= set(header["metrics"])
    assert header["run"]["steps"] == 30 and header["training"]["seed"] == 7
    assert set(bundle.tokenizer_blobs) == {"main"}


def test_every_header_reads_typed_and_writes_back_as_it_was(tiny_model_path):
    """A model file's header, typed (ModelHeader), writes back the same JSON; a header from before most sections
    existed reads too, and sections or fields a newer lstmtext adds are kept."""
    import json

    from lstmtext.core.model_header import ModelHeader

    for path in (tiny_model_path, PACKAGE_BUILTIN):
        written = load_bundle(path).header
        header = ModelHeader.from_dict(written)
        assert json.loads(json.dumps(header.to_dict())) == written
    oldest = {"model": {"vocab_size": 5, "hidden_size": 8, "embed_size": 8}, "tokenizer": {"level": "char"}}
    header = ModelHeader.from_dict(oldest)
    assert (header.level, header.vocab_size, header.corpus, header.adaptation, header.adapted) == ("char", 5, None,
                                                                                                   None, ())
    newer = {**oldest, "future": {"x": 1}, "metrics": {"val_loss": 1.5, "later": 2}}
    again = ModelHeader.from_dict(newer).to_dict()
    assert again["future"] == {"x": 1} and again["metrics"] == {"val_loss": 1.5, "later": 2}


class _Payload:
    """Unpickling this writes a marker file: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize("writer", ["torch", "pickle"])
def test_pickle_files_are_refused_and_never_run(tmp_path, writer):
    marker, path = tmp_path / "pwned", tmp_path / "evil.lstm"
    if writer == "torch":
        torch.save({"weights": _Payload(marker)}, path)
    else:
        path.write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(BadModelFile, match="pickle"):
        lstmtext.load(path)
    assert not marker.exists()


@pytest.mark.parametrize("content", [b"", b"not a model at all", b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\": 1}"])
def test_garbage_is_refused(tmp_path, content):
    path = tmp_path / "bad.lstm"
    path.write_bytes(content)
    with pytest.raises(BadModelFile):
        lstmtext.load(path)


def test_truncated_model_is_refused(tiny_model_path, tmp_path):
    path = tmp_path / "cut.lstm"
    path.write_bytes(tiny_model_path.read_bytes()[:-100])
    with pytest.raises(BadModelFile):
        lstmtext.load(path)


HEADER = {"model": {"vocab_size": 2}, "tokenizer": {"level": "char"}}


def test_save_replaces_atomically_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "m.lstm"
    save_bundle(path, Bundle({"w": torch.ones(2)}, {**HEADER, "a": 1}, {"main": b"x"}))
    save_bundle(path, Bundle({"w": torch.zeros(2)}, {**HEADER, "a": 2}, {"main": b"y"}))
    assert os.listdir(tmp_path) == ["m.lstm"]
    loaded = load_bundle(path)
    assert loaded.header == {**HEADER, "a": 2} and torch.equal(loaded.weights["w"], torch.zeros(2))
    assert loaded.tokenizer_blobs == {"main": b"y"}


def test_writes_clear_the_leftovers_of_killed_writers_but_not_of_live_ones(tmp_path):
    import os

    from lstmtext.core.files import atomic_write

    target = tmp_path / "m.ckpt"
    dead, alive = tmp_path / ".m.ckpt.999999999.tmp", tmp_path / f".m.ckpt.{os.getppid()}.tmp"
    dead.write_bytes(b"half")
    alive.write_bytes(b"being written")
    atomic_write(target, b"whole")
    assert target.read_bytes() == b"whole" and not dead.exists() and alive.exists()
