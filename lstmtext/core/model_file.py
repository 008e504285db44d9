"""A model file read into a network and its tokenizer, checked whole."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import BadModelFile
from .bundle import load_bundle
from .model import RecurrentLM, sizes_problem
from .model_header import ModelHeader
from .tokenizer import Tokenizer, tokenizer_from_blobs


@dataclass(frozen=True)
class ModelFile:
    network: RecurrentLM
    tokenizer: Tokenizer
    header: ModelHeader
    path: Path


def read_model(path: Path) -> ModelFile:
    """The network, tokenizer and header saved at `path`; BadModelFile for a damaged file or weights that are
    not finite numbers."""
    bundle = load_bundle(path)
    header = ModelHeader.from_dict(bundle.header)
    config = header.model
    mismatch = sizes_problem(config, bundle.weights)
    if mismatch is not None:
        raise BadModelFile(f"{path} is damaged: its settings do not fit its weights ({mismatch})",
                           "use an earlier copy of the model, or train it again")
    try:
        tokenizer = tokenizer_from_blobs(header.level, bundle.tokenizer_blobs)
        network = RecurrentLM(config)
        network.load_saved_weights(bundle.weights)
    except (KeyError, RuntimeError, TypeError, ValueError) as error:
        first_line = (str(error).splitlines() or [""])[0]  # torch's own errors may carry a C++ stack after it
        raise BadModelFile(f"{path} is damaged or incomplete ({type(error).__name__}: {first_line})",
                           "retrain the model with `lstmtext train`") from None
    broken = [name for name, tensor in bundle.weights.items()
              if tensor.is_floating_point() and not torch.isfinite(tensor).all()]
    if broken:
        raise BadModelFile(f"{path} has weights that are not finite numbers (NaN or infinity) in {broken[0]}",
                           "use an earlier copy of the model, or train it again")
    return ModelFile(network, tokenizer, header, path)
