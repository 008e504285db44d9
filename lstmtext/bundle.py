"""The one-file model format: a safetensors file holding the weights, the tokenizer's bytes (as uint8
tensors) and a JSON header (config, metadata, versions) in the safetensors metadata.

Loading never unpickles and never executes code; pickle files are recognised and refused.
Files are written atomically: a temporary file in the same folder, fsynced, then renamed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as safetensors_bytes

from .errors import BadModelFile, ModelNotFound
from .files import atomic_write

FORMAT = "lstmtext-model"
FORMAT_VERSION = 1
_WEIGHTS = "weights."
_TOKENIZER = "tokenizer."
_PICKLE_SIGNATURES = (b"PK\x03\x04", b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")


@dataclass
class Bundle:
    weights: dict[str, torch.Tensor]
    header: dict
    tokenizer_blobs: dict[str, bytes]


@dataclass(frozen=True)
class FileKind:
    """One of lstmtext's safetensors file kinds, with what to tell a user who passes the wrong file."""

    format: str
    version: int
    noun: str  # "model", "checkpoint"
    fix: str


MODEL_FILE = FileKind(FORMAT, FORMAT_VERSION, "model", "pass a .lstm file written by `lstmtext train`")


def blob_tensor(blob: bytes) -> torch.Tensor:
    return torch.frombuffer(bytearray(blob), dtype=torch.uint8) if blob else torch.zeros(0, dtype=torch.uint8)


def write_tensors_file(path: Path, kind: FileKind, tensors: dict[str, torch.Tensor], header: dict) -> None:
    """Tensors plus a JSON header in one safetensors file, written atomically."""
    metadata = {"format": kind.format, "format_version": str(kind.version), "header": json.dumps(header)}
    atomic_write(path, safetensors_bytes(tensors, metadata=metadata))


def read_tensors_file(path: Path, kind: FileKind) -> tuple[dict[str, torch.Tensor], dict]:
    """The tensors and JSON header of a file written by `write_tensors_file`; never unpickles anything."""
    if not path.is_file():
        raise ModelNotFound(f"{kind.noun} file not found: {path}", "check the path, or run `lstmtext models`")
    _refuse_pickle(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    except (SafetensorError, OSError, ValueError) as error:
        raise BadModelFile(f"{path} is not an lstmtext {kind.noun} file ({error})", kind.fix) from None
    if metadata.get("format") != kind.format:
        raise BadModelFile(f"{path} is a safetensors file but not an lstmtext {kind.noun}", kind.fix)
    version = int(metadata.get("format_version", "0"))
    if version > kind.version:
        raise BadModelFile(f"{path} uses {kind.noun} format {version}, newer than this lstmtext understands",
                           "upgrade lstmtext")
    try:
        header = json.loads(metadata["header"])
    except (KeyError, json.JSONDecodeError):
        raise BadModelFile(f"{path} has a damaged header", kind.fix) from None
    return tensors, header


def save_bundle(path: Path, bundle: Bundle) -> None:
    tensors = {_WEIGHTS + name: tensor for name, tensor in bundle.weights.items()}
    for name, blob in bundle.tokenizer_blobs.items():
        tensors[_TOKENIZER + name] = blob_tensor(blob)
    write_tensors_file(path, MODEL_FILE, tensors, bundle.header)


def load_bundle(path: Path) -> Bundle:
    tensors, header = read_tensors_file(path, MODEL_FILE)
    return Bundle(
        weights={n[len(_WEIGHTS):]: t for n, t in tensors.items() if n.startswith(_WEIGHTS)},
        header=header,
        tokenizer_blobs={n[len(_TOKENIZER):]: t.numpy().tobytes() for n, t in tensors.items()
                         if n.startswith(_TOKENIZER)},
    )


def _refuse_pickle(path: Path) -> None:
    with path.open("rb") as handle:
        start = handle.read(4)
    if start.startswith(_PICKLE_SIGNATURES):
        raise BadModelFile(f"{path} is a pickle (PyTorch) file, which could run code when loaded",
                           "lstmtext only loads its own safetensors .lstm files; retrain with `lstmtext train`")
