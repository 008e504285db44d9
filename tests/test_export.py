"""export: ONNX and TorchScript files load and give lstmtext's next-token probabilities, state included."""

import base64
import json

import numpy as np
import pytest
import torch

from lstmtext.core.tokenizer import tokenizer_from_blobs
from lstmtext.lab.export import HEADER_KEY, TOKENIZER_KEY

from .conftest import assert_one_line_error


def lstmtext_log_probs(lm, texts):
    ids = torch.tensor([lm.tokenizer.encode(text) for text in texts])
    with torch.no_grad():
        logits, _ = lm.model(ids)
    return torch.log_softmax(logits, -1).numpy(), ids


class Exported:
    """One interface over both formats: run(tokens, *state) → (log_probs, *state), and the embedded files."""

    def __init__(self, path, fmt):
        self.fmt = fmt
        if fmt == "torchscript":
            self.extra = {HEADER_KEY: "", TOKENIZER_KEY + "main": ""}
            self.module = torch.jit.load(str(path), _extra_files=self.extra)
            self.header = json.loads(self.extra[HEADER_KEY])
            self.tokenizer_blob = self.extra[TOKENIZER_KEY + "main"]
        else:
            import onnxruntime
            self.session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            meta = self.session.get_modelmeta().custom_metadata_map
            self.header = json.loads(meta[HEADER_KEY])
            self.tokenizer_blob = base64.b64decode(meta[TOKENIZER_KEY + "main"])

    def run(self, *inputs):
        if self.fmt == "torchscript":
            with torch.no_grad():
                return [t.numpy() for t in self.module(*[torch.from_numpy(x) for x in inputs])]
        names = [i.name for i in self.session.get_inputs()]
        return self.session.run(None, dict(zip(names, inputs)))


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_exported_files_match_lstmtext_for_other_texts_batches_and_carried_state(run, lord_models, tmp_path, fmt):
    if fmt == "onnx":  # optional dev dependencies: pip install -e '.[dev]'
        pytest.importorskip("onnxscript")
        pytest.importorskip("onnxruntime")
    lm = lord_models["char"]
    out = tmp_path / f"lord.{fmt}"
    result = run("export", "--format", fmt, "--out", out, "--model", lm.path)
    assert result.exit_code == 0, result.output
    assert "exported" in result.stdout and "checked:" in result.stderr

    exported = Exported(out, fmt)
    texts = ["Yes, my lord. The king is here.", "I know, my lord, that the night"]  # not the traced text
    texts = [t[:30] for t in texts]  # a batch of 2, 30 long
    expected, ids = lstmtext_log_probs(lm, texts)
    layers, hidden = lm.config.layers, lm.config.hidden_size
    zeros = np.zeros((layers, 2, hidden), dtype=np.float32)
    log_probs, h, c = exported.run(ids.numpy(), zeros, zeros)
    assert log_probs.shape == expected.shape
    np.testing.assert_allclose(np.exp(log_probs), np.exp(expected), atol=1e-5)
    # the state out is the state to go on with: two halves read in turn give the same as one pass
    first, h1, c1 = exported.run(ids[:, :12].numpy(), zeros, zeros)
    second, _, _ = exported.run(ids[:, 12:].numpy(), h1, c1)
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), log_probs, atol=1e-5)

    assert exported.header["model"]["hidden_size"] == hidden
    if fmt == "onnx":  # declared free, so that onnxruntime takes any batch and length without warnings
        assert exported.session.get_outputs()[0].shape == ["batch", "time", lm.tokenizer.vocab_size]
    tokenizer = tokenizer_from_blobs("char", {"main": exported.tokenizer_blob})
    assert tokenizer.encode(texts[0]) == ids[0].tolist()


def test_a_gru_exports_with_hidden_state_only(run, tiny_corpus, tmp_path):
    gru = tmp_path / "gru.lstm"
    assert run("train", tiny_corpus, "--cell", "gru", "--layers", "2", "--hidden", "8", "--max-steps", "2",
               "--seq-len", "8", "--batch-size", "2", "--out", gru).exit_code == 0
    out = tmp_path / "gru.pt"
    result = run("export", "-f", "torchscript", "--out", out, "--model", gru)
    assert result.exit_code == 0, result.output
    assert "inputs tokens, hidden; outputs log_probs, hidden_out" in result.stdout
    module = torch.jit.load(str(out))
    log_probs, hidden = module(torch.tensor([[1, 2, 3]]), torch.zeros(2, 1, 8))
    assert log_probs.shape[:2] == (1, 3) and hidden.shape == (2, 1, 8)
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(1, 3), atol=1e-5)


def test_bad_export_requests_fail_with_one_line(run, lord_models, tmp_path):
    path = lord_models["char"].path
    assert_one_line_error(run("export", "--format", "tflite", "--model", path), 2, "unknown --format", "onnx")
    assert_one_line_error(run("export", "-f", "onnx", "--out", tmp_path, "--model", path), 2, "is a folder")
    assert_one_line_error(run("export", "-f", "onnx", "--model", "ghost"), 2, "ghost")
