"""What a training run may be asked for: the tokenizer, the model's shape, its regularizers and the training
budget. No torch. Values left None are chosen by auto-sizing (training/sizing.py)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from .checks import (
    check_at_least_one,
    check_choice,
    check_finite,
    check_fraction,
    check_positive,
    check_seed,
    require_option,
)

LEVELS = ("char", "word", "bpe", "unigram")
CELLS = ("lstm", "gru", "rnn")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
DEVICES = ("auto", "cpu", "cuda", "mps")

# Upper bounds on the vocabulary; SentencePiece is told they are soft, so a small corpus gets fewer pieces.
DEFAULT_VOCAB_SIZE = {"char": 1024, "word": 10000, "bpe": 2000, "unigram": 2000}
# Where a run starts (--base): measured (training/start.py), from nothing, or else a model named by the user.
BASE_AUTO, BASE_NONE = "auto", "none"
DEFAULT_LEVEL = "char"  # a model trained from scratch; one fine-tuned keeps its base model's level
DEFAULT_LAYERS = 3  # beat two layers of the same width in 92 s and in 300 s (see sizing.TOKENS_PER_WEIGHT)


@dataclass(frozen=True)
class TokenizerConfig:
    level: str | None = None  # None: the base model's when fine-tuning, else DEFAULT_LEVEL
    vocab_size: int | None = None  # None: DEFAULT_VOCAB_SIZE[level]

    def __post_init__(self) -> None:
        if self.level is not None:
            check_choice("level", self.level, LEVELS)
        if self.vocab_size is not None:
            require_option(self.vocab_size >= 300 or self.level == "word", "vocab_size",
                           "{name} {value} is too small for level {level}",
                           "use at least 300 (256 byte-fallback pieces are always included)",
                           value=self.vocab_size, level=self.level)
            require_option(self.vocab_size >= 10, "vocab_size", "{name} {value} is too small", "use at least 10",
                           value=self.vocab_size)

    @property
    def own_level(self) -> str:
        """The level of a tokenizer learned from the corpus (not a base model's)."""
        return self.level or DEFAULT_LEVEL

    @property
    def max_vocab_size(self) -> int:
        return self.vocab_size or DEFAULT_VOCAB_SIZE[self.own_level]


@dataclass(frozen=True)
class ModelShape:
    """The network: its cell, layers (None: DEFAULT_LAYERS), hidden size (None: chosen from the corpus and the
    budget), embedding size (None: the hidden size) and whether the decoder shares the embedding matrix."""

    cell: str = "lstm"
    layers: int | None = None
    hidden_size: int | None = None
    embed_size: int | None = None
    tie_weights: bool = True

    def __post_init__(self) -> None:
        check_choice("cell", self.cell, CELLS)
        check_at_least_one("layers", self.layers, 1)
        check_at_least_one("hidden_size", self.hidden_size, 256)
        check_at_least_one("embed_size", self.embed_size, 256)


@dataclass(frozen=True)
class Regularization:
    """The AWD-LSTM regularizers as the user set them (see core/model.py); None: chosen from how much the run
    could overfit (training/sizing.py)."""

    dropout: float | None = None  # locked dropout between layers and on the last layer's output
    input_dropout: float | None = None  # locked dropout on the embeddings
    embed_dropout: float | None = None  # whole tokens dropped from the embedding matrix
    weight_drop: float | None = None  # DropConnect on the hidden-to-hidden weights
    activation_reg: float | None = None  # AR: penalty on the size of the last layer's output
    temporal_reg: float | None = None  # TAR: penalty on its change from step to step

    def __post_init__(self) -> None:
        for field, value in asdict(self).items():
            if value is None:
                continue
            if field.endswith("_reg"):
                check_finite(field, value, 1)
                require_option(value >= 0, field, "{name} {value} must not be negative", "pass e.g. {example}",
                               value=value, example=1)
            else:
                check_fraction(field, value, 0.2)


REGULARIZERS = tuple(item.name for item in fields(Regularization))  # the names, in a model file's order
NO_REGULARIZATION = Regularization(**dict.fromkeys(REGULARIZERS, 0.0))


@dataclass(frozen=True)
class TrainConfig:
    """How to train: the budget (epochs, steps or seconds; none given: about DEFAULT_TOKEN_BUDGET tokens), the
    optimizer, evaluation, precision, device and checkpoints. None: chosen by auto-sizing."""

    seq_len: int | None = None  # None: chosen from the level
    batch_size: int | None = None  # None: chosen from the corpus size
    lr: float | None = None  # None: from the hidden size
    weight_decay: float = 0.01
    layer_lr_decay: float | None = None  # each layer's rate this many times below the one above (ULMFiT); None: chosen
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
    chrono_init: bool = False  # the gates start open for about seq_len steps (core/model.py: open_gates)
    # After the last evaluation, the model learns the held-out tail by the dynamic-evaluation rule: the end of a
    # corpus is the text most like what comes next, and validation no longer needs it (training/run.py).
    learn_held_out: bool = True

    def __post_init__(self) -> None:
        check_choice("precision", self.precision, PRECISIONS)
        check_choice("device", self.device, DEVICES)
        check_finite("weight_decay", self.weight_decay, 0.01)
        if self.layer_lr_decay is not None:
            check_finite("layer_lr_decay", self.layer_lr_decay, 2.6)
            require_option(self.layer_lr_decay >= 1, "layer_lr_decay", "{name} {value} is below 1",
                           "pass e.g. {example}", value=self.layer_lr_decay, example=2.6)
        check_positive("lr", self.lr, 0.003)
        check_finite("clip", self.clip, 1)
        require_option(self.clip >= 0, "clip", "{name} {value} must not be negative", "pass 0 to turn clipping off",
                       value=self.clip)
        check_positive("max_time", self.max_time, 60)
        check_positive("checkpoint_minutes", self.checkpoint_minutes, 10)
        check_seed("seed", self.seed)
        require_option(0.0 < self.val_fraction < 0.5, "val_fraction", "{name} {value} is outside (0, 0.5)",
                       "use e.g. {example}", value=self.val_fraction, example=0.1)
        for field in ("seq_len", "batch_size", "epochs", "max_steps", "eval_every", "checkpoint_every"):
            check_at_least_one(field, getattr(self, field), 1)

    def to_dict(self) -> dict:
        return asdict(self)
