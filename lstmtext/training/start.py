"""Where a training run starts: from a base model (the built-in one, or one the user names) or from nothing.

`--base auto` measures, on the corpus's own held-out end, the two things that decide it:
- how well the base model reads that text while learning from it as it goes (as `eval --adapt` reads a text):
  what fine-tuning can build on;
- how well a general-purpose compressor (LZMA) that has read the training text before it codes the same text:
  what this corpus teaches a learner that starts from nothing.
The base model is fine-tuned when it reads the held-out end in fewer bits per character than the compressor.
English prose is far easier for the base model (it knows the language before it reads a line); a corpus unlike
its text (another language, random tokens, logs) is easier for the compressor, and a model of its own wins.
"""

from __future__ import annotations

import lzma
import math
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..core.corpus import encode_corpus, held_out_count
from ..core.model_file import ModelFile, read_model
from ..core.model_header import ModelHeader
from ..core.store import BUILTIN_NAME, ModelStore
from ..core.textfile import CorpusInfo, lines_before
from ..options import BASE_AUTO, BASE_NONE, ModelShape, TokenizerConfig, TrainConfig
from ..options.adaptation import default_adaptation
from .adaptation import Adapter
from .scoring import LN2

# The held-out tokens the base model reads to decide (about 15,000 characters: a few seconds of a 3×512 model),
# and the training text before them the compressor reads first (its window is 64 MB; this keeps it to a second).
_PROBE_TOKENS = 4096
_COMPRESSOR_CONTEXT_CHARS = 2_000_000


@dataclass(frozen=True)
class Start:
    """The model a run fine-tunes (None: it starts from nothing), the one line that says why, and the name the
    model file records for the base (the built-in model's name, or the path)."""

    base: Path | None
    reason: str
    name: str | None = None

    def header(self) -> dict:
        return {"name": self.name, "reason": self.reason}

    @classmethod
    def from_header(cls, header: dict) -> Start:
        return cls(None, str(header.get("reason") or ""), header.get("name"))


def choose_start(info: CorpusInfo, base: str, tokenizer: TokenizerConfig, shape: ModelShape,
                 training: TrainConfig, store: ModelStore) -> Start:
    """Where a run on the corpus `info` starts, for `--base` `base`: "none", "auto" or a model (name or path)."""
    if base == BASE_NONE:
        return Start(None, "training from scratch, as asked (--base none)")
    if base != BASE_AUTO:
        path = store.resolve(base)
        return Start(path, f"fine-tuning {path}, as asked", str(path))
    if store.builtin is None:
        return Start(None, "")  # an installation without one: nothing to choose, nothing to say
    builtin = read_model(store.builtin)
    conflict = _asks_for_its_own(tokenizer, shape, builtin.header)
    if conflict:
        return Start(None, f"training from scratch: {conflict}")
    base_bits, compressor_bits = _measure(info, builtin, training, store)
    figures = (f"on the corpus's held-out end the built-in model, learning as it reads, needs {base_bits:.2f} "
               f"bits/char; a compressor that has read the training text, {compressor_bits:.2f}")
    if base_bits < compressor_bits:
        return Start(store.builtin, f"fine-tuning the built-in model '{BUILTIN_NAME}': {figures}", BUILTIN_NAME)
    return Start(None, f"training from scratch: {figures} (--base {BUILTIN_NAME} fine-tunes it anyway)")


def _asks_for_its_own(tokenizer: TokenizerConfig, shape: ModelShape, header: ModelHeader) -> str | None:
    """What in the request the built-in model (its `header`) cannot give (a tokenizer or shape of another kind),
    or None."""
    model, level = header.model, header.level
    if tokenizer.level is not None and tokenizer.level != level:
        return f"--level {tokenizer.level} asks for a tokenizer of its own (the built-in model's is {level})"
    if tokenizer.vocab_size is not None:
        return "--vocab-size asks for a tokenizer of its own"
    wanted = {"cell": (shape.cell, model.cell), "layers": (shape.layers, model.layers),
              "hidden": (shape.hidden_size, model.hidden_size), "embed": (shape.embed_size, model.embed_size)}
    for option, (asked, has) in wanted.items():
        if asked is not None and asked != has:
            return f"--{option} {asked} asks for another shape (the built-in model's is {has})"
    return None


def _measure(info: CorpusInfo, model: ModelFile, training: TrainConfig, store: ModelStore) -> tuple[float, float]:
    """Bits per character on the start of the corpus's held-out end: the base `model`'s, learning as it reads (its
    weights change), and the compressor's, having read the training text before it."""
    ids = encode_corpus(info, model.tokenizer, store.token_cache_dir)
    held_out = held_out_count(len(ids), training.val_fraction, training.eval_tokens)
    probe = np.asarray(ids[len(ids) - held_out:][:_PROBE_TOKENS + 1])
    text = model.tokenizer.decode(probe[1:])
    torch.manual_seed(training.seed)
    reading = Adapter(model.network.train(False), default_adaptation(model.tokenizer.level)).read(probe)
    base_bits = float(reading.nats.sum()) / LN2 / max(len(text), 1)
    chars_before = info.chars - len(model.tokenizer.decode(ids[len(ids) - held_out:]))
    return base_bits, compressed_bits_per_char(_last_chars(info.path, chars_before), text)


def _last_chars(path: Path, end: int) -> str:
    """The `_COMPRESSOR_CONTEXT_CHARS` characters before character `end` of the file (whole lines)."""
    lines: deque[str] = deque()
    size = 0
    for line in lines_before(path, end):
        lines.append(line)
        size += len(line)
        while size - len(lines[0]) >= _COMPRESSOR_CONTEXT_CHARS:
            size -= len(lines.popleft())
    return "".join(lines)


def compressed_bits_per_char(context: str, text: str) -> float:
    """What LZMA (its strongest preset) spends on `text` after having read `context`, per character."""
    def size(data: str) -> int:
        return len(lzma.compress(data.encode(), preset=9 | lzma.PRESET_EXTREME))

    return max(size(context + text) - size(context), 0) * 8 / max(len(text), 1) if text else math.inf
