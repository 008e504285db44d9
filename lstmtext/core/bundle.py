"""The one-file model format: a safetensors file holding the weights, the tokenizer's bytes (as uint8
tensors) and a JSON header (config, metadata, versions) in the safetensors metadata.

Loading never unpickles and never executes code; pickle files are recognised and refused.
Files are written atomically: a temporary file in the same folder, fsynced, then renamed. The metadata holds
a SHA-256 of every tensor's name, type, shape and bytes, so a file damaged on disk is refused, not half-read.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as safetensors_bytes

from ..errors import BadModelFile, LstmtextError, ModelNotFound
from ..options.adaptation import AdaptOptions
from .config import ModelConfig
from .files import atomic_write
from .header import header_problem, json_kind
from .model_header import ModelHeader

FORMAT = "lstmtext-model"
FORMAT_VERSION = 2  # 2: the checksum is always there (files of format 1 from before it had none)
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
    checksummed_from: int | None = None  # the first version whose files all carry a checksum


MODEL_FILE = FileKind(FORMAT, FORMAT_VERSION, "model", "pass a .lstm file written by `lstmtext train`",
                      checksummed_from=2)


def blob_tensor(blob: bytes) -> torch.Tensor:
    return torch.frombuffer(bytearray(blob), dtype=torch.uint8) if blob else torch.zeros(0, dtype=torch.uint8)


def write_tensors_file(path: Path, kind: FileKind, tensors: dict[str, torch.Tensor], header: dict) -> None:
    """Tensors plus a JSON header in one safetensors file, written atomically."""
    metadata = {"format": kind.format, "format_version": str(kind.version), "header": json.dumps(header),
                "checksum": tensors_checksum(tensors)}
    atomic_write(path, safetensors_bytes(tensors, metadata=metadata))


def tensors_checksum(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 over the tensors in name order: each one's name, dtype, shape and bytes."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.view(-1).view(torch.uint8).numpy().data if tensor.numel() else b"")
    return digest.hexdigest()


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
    version = _format_version(path, metadata, kind)
    if "checksum" not in metadata and kind.checksummed_from is not None and version >= kind.checksummed_from:
        raise BadModelFile(f"{path} is damaged: it has no checksum of its weights", f"use an earlier copy of the "
                           f"{kind.noun}, or train again")
    if "checksum" in metadata and metadata["checksum"] != tensors_checksum(tensors):
        raise BadModelFile(f"{path} is damaged: its weights do not match the checksum written with them",
                           f"use an earlier copy of the {kind.noun}, or train again")
    try:
        header = json.loads(metadata["header"])
    except (KeyError, ValueError, RecursionError):  # ValueError: JSON's own errors, and numbers of 4,300+ digits
        raise BadModelFile(f"{path} has a damaged header", kind.fix) from None
    if not isinstance(header, dict):
        raise BadModelFile(f"{path} has a damaged header (it is {json_kind(header)}, not an object)", kind.fix)
    return tensors, header


def _format_version(path: Path, metadata: dict, kind: FileKind) -> int:
    version = metadata.get("format_version", "0")
    if not (version.isascii() and version.isdigit() and len(version) < 10):
        raise BadModelFile(f"{path} has a damaged header (format_version '{version[:20]}')", kind.fix)
    if int(version) > kind.version:
        raise BadModelFile(f"{path} uses {kind.noun} format {version}, newer than this lstmtext understands",
                           "upgrade lstmtext")
    return int(version)


def save_bundle(path: Path, bundle: Bundle) -> None:
    tensors = {_WEIGHTS + name: tensor for name, tensor in bundle.weights.items()}
    for name, blob in bundle.tokenizer_blobs.items():
        tensors[_TOKENIZER + name] = blob_tensor(blob)
    write_tensors_file(path, MODEL_FILE, tensors, bundle.header)


def load_bundle(path: Path) -> Bundle:
    """A model file's weights, header and tokenizer, the header checked field by field (core/header.py) and its
    model and adaptation settings as the options they were made from."""
    tensors, header = read_tensors_file(path, MODEL_FILE)
    problem = header_problem(header)
    if problem is not None:
        raise BadModelFile(f"{path} has a damaged header ({problem})", MODEL_FILE.fix)
    try:
        ModelConfig.from_dict(header["model"])
        if header.get("adaptation"):
            AdaptOptions.from_dict(header["adaptation"])
    except (LstmtextError, TypeError, ValueError) as error:
        raise BadModelFile(f"{path} has a damaged header (its settings: {error})", MODEL_FILE.fix) from None
    return Bundle(
        weights={n[len(_WEIGHTS):]: t for n, t in tensors.items() if n.startswith(_WEIGHTS)},
        header=header,
        tokenizer_blobs={n[len(_TOKENIZER):]: t.numpy().tobytes() for n, t in tensors.items()
                         if n.startswith(_TOKENIZER)},
    )


def load_header(path: Path) -> ModelHeader:
    """What a model file says about itself (its header), checked as `load_bundle` checks it."""
    return ModelHeader.from_dict(load_bundle(path).header)


def _refuse_pickle(path: Path) -> None:
    with path.open("rb") as handle:
        start = handle.read(9)
    # A safetensors file starts with its header's length (8 bytes) and then "{": its first bytes may look like a
    # pickle's by chance, so only a file that is not laid out as safetensors is called a pickle.
    header_length = int.from_bytes(start[:8], "little") if len(start) == 9 else 0
    looks_like_safetensors = start[8:9] == b"{" and 0 < header_length < path.stat().st_size
    if start.startswith(_PICKLE_SIGNATURES) and not looks_like_safetensors:
        raise BadModelFile(f"{path} is a pickle (PyTorch) file, which could run code when loaded",
                           "lstmtext only loads its own safetensors .lstm files; retrain with `lstmtext train`")
