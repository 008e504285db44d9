"""Exporting a model to run outside lstmtext: TorchScript (`torch.jit.trace`) or ONNX (`torch.onnx.export`).

Both files compute one thing: token ids (B, T) and the recurrent state in; the log-probabilities of the next
token after every position (B, T, V) and the new state out — `hidden` (layers, B, H), and for an LSTM also
`cell`. The model's header (JSON) and its SentencePiece tokenizer travel inside the file (TorchScript extra
files; ONNX metadata, the tokenizer base64-encoded), so the file alone is enough to deploy.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..core.files import atomic_write
from ..core.model import RecurrentLM
from ..options.lab import check_export_format

HEADER_KEY = "lstmtext.header"
TOKENIZER_KEY = "lstmtext.tokenizer."  # + the part's name ("main", and "fallback" for word level)
_ONNX_OPSET = 18


class NextTokenLSTM(nn.Module):
    def __init__(self, model: RecurrentLM) -> None:
        super().__init__()
        self.model = model

    def forward(self, tokens: torch.Tensor, hidden: torch.Tensor, cell: torch.Tensor):
        logits, (hidden, cell) = self.model(tokens, (hidden, cell))  # (B, T, V)
        return torch.log_softmax(logits, dim=-1), hidden, cell


class NextTokenRecurrent(nn.Module):
    """The same for a GRU or a plain RNN, whose state is `hidden` alone."""

    def __init__(self, model: RecurrentLM) -> None:
        super().__init__()
        self.model = model

    def forward(self, tokens: torch.Tensor, hidden: torch.Tensor):
        logits, hidden = self.model(tokens, hidden)
        return torch.log_softmax(logits, dim=-1), hidden


@dataclass(frozen=True)
class ExportSpec:
    """What an exported file takes and gives, by name, in order."""
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


def spec_for(model: RecurrentLM) -> ExportSpec:
    if model.config.cell == "lstm":
        return ExportSpec(("tokens", "hidden", "cell"), ("log_probs", "hidden_out", "cell_out"))
    return ExportSpec(("tokens", "hidden"), ("log_probs", "hidden_out"))


def wrapper_for(model: RecurrentLM) -> nn.Module:
    model = model.cpu().eval()
    return (NextTokenLSTM if model.config.cell == "lstm" else NextTokenRecurrent)(model).eval()


def example_inputs(model: RecurrentLM, token_ids: list[int], batch: int = 1) -> tuple[torch.Tensor, ...]:
    """`token_ids` as a (batch, T) int64 tensor and a zero state, in the order of `spec_for(model).inputs`."""
    config = model.config
    tokens = torch.tensor([token_ids] * batch, dtype=torch.long)
    zeros = torch.zeros(config.layers, batch, config.hidden_size)
    return (tokens, zeros, zeros.clone()) if config.cell == "lstm" else (tokens, zeros)


@contextlib.contextmanager
def _quiet_exporters() -> Iterator[None]:
    """The tracer and the ONNX exporter warn about internals a user can do nothing about (nn.LSTM's shape checks,
    deprecations, torchvision ops): keep them off the terminal while exporting."""
    logger = logging.getLogger("torch")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def export_torchscript(model: RecurrentLM, header: dict, tokenizer_blobs: dict[str, bytes], path: Path,
                       token_ids: list[int]) -> None:
    with _quiet_exporters():
        traced = torch.jit.trace(wrapper_for(model), example_inputs(model, token_ids))
    extra = {HEADER_KEY: json.dumps(header).encode()}
    extra.update({TOKENIZER_KEY + part: blob for part, blob in tokenizer_blobs.items()})
    buffer = io.BytesIO()
    with _quiet_exporters():
        torch.jit.save(traced, buffer, _extra_files=extra)
    atomic_write(path, buffer.getvalue())


def export_onnx(model: RecurrentLM, header: dict, tokenizer_blobs: dict[str, bytes], path: Path,
                token_ids: list[int]) -> None:
    spec = spec_for(model)
    batch, time = torch.export.Dim("batch"), torch.export.Dim("time")
    shapes = {"tokens": {0: batch, 1: time}, "hidden": {1: batch}}
    if "cell" in spec.inputs:
        shapes["cell"] = {1: batch}
    # Exported with a batch of 2: a batch of 1 would let the exporter treat that size as fixed.
    with _quiet_exporters():
        program = torch.onnx.export(wrapper_for(model), example_inputs(model, token_ids, batch=2), dynamo=True,
                                    input_names=list(spec.inputs), output_names=list(spec.outputs),
                                    dynamic_shapes=shapes, opset_version=_ONNX_OPSET, verbose=False)
    proto = program.model_proto
    _name_free_axes(proto)
    metadata = {HEADER_KEY: json.dumps(header)}
    metadata.update({TOKENIZER_KEY + part: base64.b64encode(blob).decode() for part, blob in tokenizer_blobs.items()})
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    atomic_write(path, proto.SerializeToString())


@dataclass(frozen=True)
class ExportReport:
    path: Path
    format: str
    size: int  # bytes
    spec: ExportSpec
    max_difference: float | None  # largest gap between the file's next-token probabilities and lstmtext's


def export_model(model: RecurrentLM, header: dict, tokenizer_blobs: dict[str, bytes], path: Path, fmt: str,
                 token_ids: list[int]) -> ExportReport:
    """Write `model` to `path` as `fmt` ("onnx" or "torchscript"), then run the file on `token_ids` and compare."""
    check_export_format(fmt)
    writer = export_onnx if fmt == "onnx" else export_torchscript
    writer(model, header, tokenizer_blobs, path, token_ids)
    exported = exported_log_probs(path, fmt, model, token_ids)
    difference = None if exported is None else \
        float(np.abs(np.exp(exported) - np.exp(reference_log_probs(model, token_ids))).max())
    return ExportReport(path, fmt, path.stat().st_size, spec_for(model), difference)


def reference_log_probs(model: RecurrentLM, token_ids: list[int]) -> np.ndarray:
    """What an exported file must give for `token_ids` from a zero state: (T, V) log-probabilities."""
    with torch.no_grad():
        return wrapper_for(model)(*example_inputs(model, token_ids))[0][0].numpy()


def _name_free_axes(proto) -> None:
    """The exporter annotates `log_probs` and the values before it with the traced length, though the graph
    takes any length: name the axes free and drop the intermediate annotations (optional hints, which
    onnxruntime infers again), or onnxruntime warns on every other length."""
    del proto.graph.value_info[:]
    for output in proto.graph.output:
        if output.name == "log_probs":
            batch, time = output.type.tensor_type.shape.dim[:2]
            batch.dim_param, time.dim_param = "batch", "time"


def exported_log_probs(path: Path, fmt: str, model: RecurrentLM, token_ids: list[int]) -> np.ndarray | None:
    """Run the exported file on `token_ids` from a zero state: (T, V) log-probabilities; None for ONNX when
    onnxruntime is not installed."""
    inputs = example_inputs(model, token_ids)
    if fmt == "torchscript":
        with torch.no_grad(), _quiet_exporters():
            return torch.jit.load(str(path))(*inputs)[0][0].numpy()
    try:
        import onnxruntime
    except ImportError:
        return None
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {name: tensor.numpy() for name, tensor in zip(spec_for(model).inputs, inputs)}
    return session.run(["log_probs"], feeds)[0][0]
