"""Settings as frozen dataclasses: tokenizer, model and training, with defaults and auto-sizing rules.

Validation lives in `__post_init__`, so a bad value fails before any work starts. Must not import torch.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from .errors import BadInput

LEVELS = ("char", "word", "bpe", "unigram")
CELLS = ("lstm", "gru", "rnn")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
DEVICES = ("auto", "cpu", "cuda", "mps")

UNTIL = ("sentence", "line", "word", "none")  # where a completion stops

# Upper bounds on the vocabulary; SentencePiece is told they are soft, so a small corpus gets fewer pieces.
DEFAULT_VOCAB_SIZE = {"char": 1024, "word": 10000, "bpe": 2000, "unigram": 2000}
DEFAULT_SEQ_LEN = {"char": 64, "word": 35, "bpe": 64, "unigram": 64}
# Without --epochs/--max-steps/--max-time, train for about this many tokens (at least one epoch).
DEFAULT_TOKEN_BUDGET = 3_000_000
MAX_AUTO_EPOCHS = 30


def _require(condition: bool, problem: str, fix: str) -> None:
    if not condition:
        raise BadInput(problem, fix)


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    _require(value in allowed, f"unknown {name} '{value}'", f"use one of: {', '.join(allowed)}")


@dataclass(frozen=True)
class TokenizerConfig:
    level: str = "char"
    vocab_size: int | None = None  # None: DEFAULT_VOCAB_SIZE[level]

    def __post_init__(self) -> None:
        _choice("level", self.level, LEVELS)
        if self.vocab_size is not None:
            _require(self.vocab_size >= 300 or self.level == "word",
                     f"--vocab-size {self.vocab_size} is too small for level {self.level}",
                     "use at least 300 (256 byte-fallback pieces are always included)")
            _require(self.vocab_size >= 10, f"--vocab-size {self.vocab_size} is too small", "use at least 10")

    @property
    def max_vocab_size(self) -> int:
        return self.vocab_size or DEFAULT_VOCAB_SIZE[self.level]


@dataclass(frozen=True)
class ModelConfig:
    vocab_size: int
    cell: str = "lstm"
    layers: int = 2
    hidden_size: int = 256
    embed_size: int = 256
    dropout: float = 0.2
    tie_weights: bool = True

    def __post_init__(self) -> None:
        _choice("cell", self.cell, CELLS)
        _require(self.vocab_size > 1, "the vocabulary has fewer than 2 pieces", "train on more text")
        _require(self.layers >= 1, f"--layers {self.layers} must be at least 1", "pass --layers 1 or more")
        _require(self.hidden_size >= 1, f"--hidden {self.hidden_size} must be positive", "pass e.g. --hidden 256")
        _require(self.embed_size >= 1, f"--embed {self.embed_size} must be positive", "pass e.g. --embed 256")
        _require(0.0 <= self.dropout < 1.0, f"--dropout {self.dropout} is outside [0, 1)", "pass e.g. --dropout 0.2")

    @property
    def ties_weights(self) -> bool:
        """The decoder shares the embedding matrix only when their shapes agree."""
        return self.tie_weights and self.embed_size == self.hidden_size

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ModelConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class TrainConfig:
    seq_len: int | None = None  # None: chosen from the level
    batch_size: int | None = None  # None: chosen from the corpus size
    lr: float = 3e-3
    weight_decay: float = 0.01
    clip: float = 1.0  # max gradient norm; 0 turns clipping off
    warmup_steps: int = 20
    epochs: int | None = None
    max_steps: int | None = None
    max_time: float | None = None  # seconds
    eval_every: int | None = None  # steps; None: about ten evaluations a run
    eval_tokens: int = 32_768  # validation tokens scored at each evaluation
    val_fraction: float = 0.1
    seed: int = 1337
    precision: str = "auto"
    device: str = "auto"
    sample_length: int = 120
    checkpoint_every: int | None = None  # steps
    checkpoint_minutes: float | None = 10.0

    def __post_init__(self) -> None:
        _choice("precision", self.precision, PRECISIONS)
        _choice("device", self.device, DEVICES)
        _require(self.lr > 0, f"--lr {self.lr} must be positive", "pass e.g. --lr 0.003")
        _require(self.clip >= 0, f"--clip {self.clip} must not be negative", "pass 0 to turn clipping off")
        _require(0.0 < self.val_fraction < 0.5, f"validation fraction {self.val_fraction} is outside (0, 0.5)",
                 "use e.g. 0.1")
        for name, value in (("--seq-len", self.seq_len), ("--batch-size", self.batch_size),
                            ("--epochs", self.epochs), ("--max-steps", self.max_steps),
                            ("--eval-every", self.eval_every), ("--checkpoint-every", self.checkpoint_every)):
            _require(value is None or value >= 1, f"{name} {value} must be at least 1", f"pass {name} 1 or more")
        _require(self.max_time is None or self.max_time > 0, f"--max-time {self.max_time} must be positive",
                 "pass a number of seconds, e.g. --max-time 60")
        _require(self.checkpoint_minutes is None or self.checkpoint_minutes > 0,
                 f"--checkpoint-minutes {self.checkpoint_minutes} must be positive",
                 "pass e.g. --checkpoint-minutes 10")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Sizing:
    """What auto-sizing picked, and one line saying why."""

    hidden_size: int
    layers: int
    seq_len: int
    batch_size: int
    epochs: int | None
    reason: str


def choose_sizes(level: str, train_tokens: int, train: TrainConfig, hidden_size: int | None = None,
                 layers: int | None = None) -> Sizing:
    """Pick sequence length, batch size, hidden size and layers from the corpus and the budget.

    Values the user set are kept. Small corpora get small models (they overfit big ones); a short
    --max-time gets a model small enough to see the data at least once.
    """
    seq_len = train.seq_len or DEFAULT_SEQ_LEN[level]
    # Small corpora get small batches: more updates per epoch matter more than throughput there.
    batch_size = train.batch_size or max(4, min(32, train_tokens // (seq_len * 50)))
    short_budget = train.max_time is not None and train.max_time <= 120
    if hidden_size is None:
        hidden_size = 256 if train_tokens < 300_000 or short_budget else (512 if train_tokens > 3_000_000 else 384)
    layers = layers or 2
    epochs = train.epochs
    if epochs is None and train.max_steps is None and train.max_time is None:
        epochs = max(1, min(MAX_AUTO_EPOCHS, math.ceil(DEFAULT_TOKEN_BUDGET / max(train_tokens, 1))))
    budget = f"{epochs} epochs" if epochs else (f"{train.max_time:g} s" if train.max_time else f"{train.max_steps} steps")
    reason = (f"{train_tokens:,} training tokens and a budget of {budget}: "
              f"{layers}×{hidden_size} {level}-level model, batch {batch_size} × {seq_len} tokens")
    return Sizing(hidden_size, layers, seq_len, batch_size, epochs, reason)


@dataclass(frozen=True)
class Sampling:
    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None

    def __post_init__(self) -> None:
        _require(self.temperature > 0, f"temperature {self.temperature} must be positive",
                 "use e.g. --temperature 0.8")
        _require(self.top_k is None or self.top_k >= 1, f"top-k {self.top_k} must be at least 1",
                 "use e.g. --top-k 40, or leave it out")
        _require(self.top_p is None or 0 < self.top_p <= 1, f"top-p {self.top_p} is outside (0, 1]",
                 "use e.g. --top-p 0.9, or leave it out")


def check_model_options(cell: str, layers: int | None, hidden_size: int | None, embed_size: int | None,
                        dropout: float) -> None:
    """Fail on bad model options before any work (the real config waits for the vocabulary size)."""
    def given_or(value: int | None) -> int:
        return 1 if value is None else value

    ModelConfig(vocab_size=2, cell=cell, layers=given_or(layers), hidden_size=given_or(hidden_size),
                embed_size=given_or(embed_size), dropout=dropout)


def require_at_least_one(option: str, value: int, example: int) -> None:
    _require(value >= 1, f"{option} {value} must be at least 1", f"pass e.g. {option} {example}")


def check_completion_options(n: int, until: str, max_tokens: int, beam_width: int | None) -> None:
    _choice("--until", until, UNTIL)
    require_at_least_one("-n", n, 5)
    require_at_least_one("--max-tokens", max_tokens, 40)
    _require(beam_width is None or beam_width >= n, f"--beam {beam_width} is smaller than -n {n}",
             f"use --beam {n} or more, or leave it out")
