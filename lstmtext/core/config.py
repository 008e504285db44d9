"""Settings as frozen dataclasses: tokenizer, model and training, with defaults and auto-sizing rules.

Validation lives in `__post_init__`, so a bad value fails before any work starts. Must not import torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields

from ..errors import BadInput

LEVELS = ("char", "word", "bpe", "unigram")
CELLS = ("lstm", "gru", "rnn")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
DEVICES = ("auto", "cpu", "cuda", "mps")

UNTIL = ("sentence", "line", "word", "none")  # where a completion stops
EXPORT_FORMATS = ("onnx", "torchscript")
SHOWN = ("forget", "input", "output", "candidate", "cell", "hidden")  # what `inspect` can colour text by

# Upper bounds on the vocabulary; SentencePiece is told they are soft, so a small corpus gets fewer pieces.
DEFAULT_VOCAB_SIZE = {"char": 1024, "word": 10000, "bpe": 2000, "unigram": 2000}
DEFAULT_LAYERS = 3  # beat two layers of the same width in 92 s and in 300 s (see TOKENS_PER_WEIGHT)
DEFAULT_SEQ_LEN = {"char": 64, "word": 35, "bpe": 64, "unigram": 64}
# Without --epochs/--max-steps/--max-time, train for about this many tokens (at least one epoch).
DEFAULT_TOKEN_BUDGET = 3_000_000
MAX_AUTO_EPOCHS = 30

# What one request may ask of a model: more would take minutes and gigabytes, not give better answers.
MAX_COMPLETIONS = 100
MAX_BEAM_WIDTH = 256
MAX_COMPLETION_TOKENS = 1000
# A prompt longer than this is read from its last line or word break within this many characters: an LSTM's
# memory is far shorter, and reading a whole book before every completion would take minutes.
MAX_PROMPT_CHARS = 20_000
MAX_SEED = 2 ** 63 - 1


def require(condition: bool, problem: str, fix: str) -> None:
    """Raise BadInput(problem, fix) unless `condition`."""
    if not condition:
        raise BadInput(problem, fix)


def require_finite(option: str, value: float | None, example: str) -> None:
    """Infinity and NaN are never a setting: refuse them by name (`value` None means not set)."""
    require(value is None or math.isfinite(value), f"{option} {value} is not a finite number",
            f"pass e.g. {option} {example}")


def check_seed(option: str, seed: int | None) -> None:
    require(seed is None or 0 <= seed <= MAX_SEED, f"{option} {seed} is outside 0 to 2^63-1",
            f"pass e.g. {option} 1337")


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    require(value in allowed, f"unknown {name} '{value}'", f"use one of: {', '.join(allowed)}")


@dataclass(frozen=True)
class TokenizerConfig:
    level: str = "char"
    vocab_size: int | None = None  # None: DEFAULT_VOCAB_SIZE[level]

    def __post_init__(self) -> None:
        _choice("level", self.level, LEVELS)
        if self.vocab_size is not None:
            require(self.vocab_size >= 300 or self.level == "word",
                    f"--vocab-size {self.vocab_size} is too small for level {self.level}",
                    "use at least 300 (256 byte-fallback pieces are always included)")
            require(self.vocab_size >= 10, f"--vocab-size {self.vocab_size} is too small", "use at least 10")

    @property
    def max_vocab_size(self) -> int:
        return self.vocab_size or DEFAULT_VOCAB_SIZE[self.level]


@dataclass(frozen=True)
class ModelConfig:
    vocab_size: int
    cell: str = "lstm"
    layers: int = DEFAULT_LAYERS
    hidden_size: int = 256
    embed_size: int = 256
    tie_weights: bool = True
    # Training-time regularizers (AWD-LSTM; see model.py): locked dropout between layers and on the output,
    # on the embeddings, whole embedding rows, DropConnect on hidden-to-hidden weights, and the AR/TAR penalties.
    dropout: float = 0.0
    input_dropout: float = 0.0
    embed_dropout: float = 0.0
    weight_drop: float = 0.0
    activation_reg: float = 0.0
    temporal_reg: float = 0.0

    def __post_init__(self) -> None:
        _choice("cell", self.cell, CELLS)
        require(self.vocab_size > 1, "the vocabulary has fewer than 2 pieces", "train on more text")
        require(self.layers >= 1, f"--layers {self.layers} must be at least 1", "pass --layers 1 or more")
        require(self.hidden_size >= 1, f"--hidden {self.hidden_size} must be positive", "pass e.g. --hidden 256")
        require(self.embed_size >= 1, f"--embed {self.embed_size} must be positive", "pass e.g. --embed 256")
        for option, value in (("--dropout", self.dropout), ("--input-dropout", self.input_dropout),
                              ("--embed-dropout", self.embed_dropout), ("--weight-drop", self.weight_drop)):
            require(0.0 <= value < 1.0, f"{option} {value} is outside [0, 1)", f"pass e.g. {option} 0.2")
        for option, value in (("--ar", self.activation_reg), ("--tar", self.temporal_reg)):
            require_finite(option, value, "1")
            require(value >= 0, f"{option} {value} must not be negative", f"pass e.g. {option} 1")

    @property
    def regularized(self) -> bool:
        """Whether training needs the layer-by-layer path (any dropout or weight drop)."""
        return any((self.dropout, self.input_dropout, self.embed_dropout, self.weight_drop))

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
    lr: float | None = None  # None: peak_learning_rate(hidden size)
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
        for option, value, example in (("--lr", self.lr, "0.003"), ("--clip", self.clip, "1"),
                                       ("--max-time", self.max_time, "60"),
                                       ("--checkpoint-minutes", self.checkpoint_minutes, "10"),
                                       ("weight decay", self.weight_decay, "0.01")):
            require_finite(option, value, example)
        check_seed("--seed", self.seed)
        require(self.lr is None or self.lr > 0, f"--lr {self.lr} must be positive", "pass e.g. --lr 0.003")
        require(self.clip >= 0, f"--clip {self.clip} must not be negative", "pass 0 to turn clipping off")
        require(0.0 < self.val_fraction < 0.5, f"validation fraction {self.val_fraction} is outside (0, 0.5)",
                "use e.g. 0.1")
        for name, value in (("--seq-len", self.seq_len), ("--batch-size", self.batch_size),
                            ("--epochs", self.epochs), ("--max-steps", self.max_steps),
                            ("--eval-every", self.eval_every), ("--checkpoint-every", self.checkpoint_every)):
            require(value is None or value >= 1, f"{name} {value} must be at least 1", f"pass {name} 1 or more")
        require(self.max_time is None or self.max_time > 0, f"--max-time {self.max_time} must be positive",
                "pass a number of seconds, e.g. --max-time 60")
        require(self.checkpoint_minutes is None or self.checkpoint_minutes > 0,
                f"--checkpoint-minutes {self.checkpoint_minutes} must be positive",
                "pass e.g. --checkpoint-minutes 10")

    def to_dict(self) -> dict:
        return asdict(self)


def peak_learning_rate(hidden_size: int) -> float:
    """AdamW's peak rate: 6e-3 up to hidden size 256 (measured best for 2-minute char models, 1e-2 no
    better), falling as 1/sqrt(width) above it, as wider layers take bigger steps from the same rate."""
    return 6e-3 * min(1.0, (256 / hidden_size) ** 0.5)


@dataclass(frozen=True)
class Regularization:
    """The AWD-LSTM regularizers as the user set them (see model.py); None: chosen from how much the run
    could overfit (`regularization_strength`). A single pass leaves nothing to overfit, and dropout would only
    slow learning; a few passes want a little of each (it also carries better to text unlike the corpus); a
    small corpus seen many times, or one with far more weights than tokens, needs them all, strongly."""

    dropout: float | None = None  # locked dropout between layers and on the last layer's output
    input_dropout: float | None = None  # locked dropout on the embeddings
    embed_dropout: float | None = None  # whole tokens dropped from the embedding matrix
    weight_drop: float | None = None  # DropConnect on the hidden-to-hidden weights
    activation_reg: float | None = None  # AR: penalty on the size of the last layer's output
    temporal_reg: float | None = None  # TAR: penalty on its change from step to step

    def resolve(self, strength: str, level: str) -> dict[str, float]:
        """Every regularizer's value: the user's where set, else the preset of this strength."""
        preset = _REGULARIZATION_PRESETS[strength]
        values = {name: value if value is not None else preset[name] for name, value in asdict(self).items()}
        if self.embed_dropout is None and level == "char":
            values["embed_dropout"] = 0.0  # a character dropped everywhere at once is not a word made unknown
        return values


_REGULARIZATION_PRESETS = {
    "none": dict(dropout=0.0, input_dropout=0.0, embed_dropout=0.0, weight_drop=0.0, activation_reg=0.0,
                 temporal_reg=0.0),
    "light": dict(dropout=0.1, input_dropout=0.05, embed_dropout=0.05, weight_drop=0.1, activation_reg=1.0,
                  temporal_reg=1.0),
    "strong": dict(dropout=0.3, input_dropout=0.15, embed_dropout=0.1, weight_drop=0.3, activation_reg=2.0,
                   temporal_reg=1.0),
}


def regularization_strength(passes: float, weights_per_token: float) -> str:
    """None for about one pass over the corpus; beyond, light or strong by the overfitting risk: the passes
    times the weights (embeddings included) each training token has to teach. Measured on tinyshakespeare
    (held-out last 10%, 300 s): char 2×256 (risk 7) none 1.521 nats/char, light 1.469, strong 1.537; bpe 3×256
    (risk 56) light 1.501, strong 1.526; word 3×192 (risk 90) light 1.854, strong 1.784."""
    if passes < 1.5:
        return "none"
    return "light" if passes * weights_per_token < _STRONG_REGULARIZATION_RISK else "strong"


_STRONG_REGULARIZATION_RISK = 75


def check_regularization(regularization: Regularization) -> None:
    """Fail on bad regularizer options before any work."""
    ModelConfig(vocab_size=2, **{name: value or 0.0 for name, value in asdict(regularization).items()})


@dataclass(frozen=True)
class Sizing:
    """What auto-sizing picked, and one line saying why."""

    hidden_size: int
    layers: int
    seq_len: int
    batch_size: int
    epochs: int | None
    regularization: dict[str, float]
    reason: str


def choose_sizes(level: str, train_tokens: int, train: TrainConfig, hidden_size: int | None = None,
                 layers: int | None = None, regularization: Regularization = Regularization(),
                 tokens_per_second: Callable[[int], float] | None = None, chars_per_token: float = 1.0,
                 vocab_size: int = 0, processes: int = 1) -> Sizing:
    """Pick sequence length, batch size, hidden size, layers and regularization from the corpus and the budget.

    Values the user set are kept. The hidden size is the largest that reads `TOKENS_PER_WEIGHT` tokens per
    weight within the budget (the compute-optimal size) and has no more weights than the corpus can teach.
    A time budget is turned into tokens by `tokens_per_second(hidden_size)`, this machine's measured training
    speed; without that measure, only the corpus decides. Regularization follows from the passes over the
    corpus the budget allows and the weights (`vocab_size` embeddings included) per training token. The batch
    has at most one stream per window of the corpus, and an automatic one splits evenly over `processes`.
    """
    seq_len = train.seq_len or DEFAULT_SEQ_LEN[level]
    # Small corpora get small batches: more updates per epoch matter more than throughput there.
    batch_size = train.batch_size or max(4, min(32, train_tokens // (seq_len * 50)))
    most_streams = max(1, train_tokens // (seq_len + 1))
    batch_note = ""
    if batch_size > most_streams:
        if train.batch_size:
            batch_note = f" (--batch-size {train.batch_size:,} lowered: the corpus has {most_streams:,} windows)"
        batch_size = most_streams
    if train.batch_size is None:
        batch_size = max(processes, batch_size // processes * processes)
    layers = layers or DEFAULT_LAYERS
    epochs = train.epochs
    if epochs is None and train.max_steps is None and train.max_time is None:
        epochs = max(1, min(MAX_AUTO_EPOCHS, math.ceil(DEFAULT_TOKEN_BUDGET / max(train_tokens, 1))))

    def tokens_read(size: int) -> float | None:
        """Training tokens a model of this hidden size reads within the budget; None when unknown."""
        if epochs:
            return float(epochs * train_tokens)
        if train.max_steps:
            return float(train.max_steps * batch_size * seq_len)
        return tokens_per_second(size) * train.max_time if tokens_per_second is not None else None

    if hidden_size is None:
        measured_time = train.max_time is not None and tokens_per_second is not None
        hidden_size = _compute_optimal_hidden(train_tokens * chars_per_token, layers, tokens_read,
                                              largest=_HIDDEN_SIZES[-1] if measured_time else _LARGEST_UNTIMED)
    seen = tokens_read(hidden_size)
    passes = (train_tokens if seen is None else seen) / max(train_tokens, 1)
    if epochs:
        budget = f"{epochs} epoch{'s' if epochs > 1 else ''}"
    else:
        budget = f"{train.max_steps} steps" if train.max_steps else f"{train.max_time:g} s"
    weights_per_token = trained_weights(hidden_size, layers, vocab_size) / max(train_tokens, 1)
    strength = regularization_strength(passes, weights_per_token)
    resolved = regularization.resolve(strength, level)
    reason = (f"{train_tokens:,} training tokens and a budget of {budget} (about {passes:.1f} passes): "
              f"{layers}×{hidden_size} {level}-level model, batch {batch_size} × {seq_len} tokens{batch_note}, "
              f"{'no' if strength == 'none' else strength} regularization")
    return Sizing(hidden_size, layers, seq_len, batch_size, epochs, resolved, reason)


_HIDDEN_SIZES = (128, 192, 256, 384, 512, 768, 1024)
_LARGEST_UNTIMED = 512  # without a measured time budget, no wider than this
_PARAMETERS_PER_CHAR = 5  # no more recurrent weights than this per character of training text


# A run reads at least this many training tokens per recurrent weight (the compute-optimal size; the optimum
# is flat). Measured on tinyshakespeare (held-out last 10%; light regularization; tokens read per weight in
# brackets): in 92 s 3×192 (3.0) beat 3×128 (11) and 2×192 (5.8): 1.513, 1.539 and 1.534 nats/char; in 300 s
# 3×256 (3.3) and 3×192 (10) tie at 1.433 and 1.436, ahead of 2×192 (16), 2×256 (5.4) and 2×384 (1.2): 1.450,
# 1.469 and 1.507. 1.5 keeps the measured best on either side of the speed probe's noise (±20%): 3×256 reads
# about 1.0 in 92 s, 3×384 about 0.6 in 300 s.
TOKENS_PER_WEIGHT = 1.5


def _teachable_sizes(train_chars: float, layers: int) -> list[int]:
    """Hidden sizes with no more weights than the corpus can teach (small corpora overfit big models)."""
    return [size for size in _HIDDEN_SIZES
            if recurrent_parameters(size, size, layers) <= _PARAMETERS_PER_CHAR * train_chars]


def _compute_optimal_hidden(train_chars: float, layers: int, tokens_read: Callable[[int], float | None],
                            largest: int) -> int:
    """The largest teachable hidden size up to `largest` that reads `TOKENS_PER_WEIGHT` tokens per weight."""
    def reads_enough(size: int) -> bool:
        read = tokens_read(size)
        return read is None or read >= TOKENS_PER_WEIGHT * recurrent_parameters(size, size, layers)

    fitting = [size for size in _teachable_sizes(train_chars, layers) if size <= largest and reads_enough(size)]
    return max(fitting, default=_HIDDEN_SIZES[0])


def trained_weights(hidden_size: int, layers: int, vocab_size: int) -> int:
    """The weights every training token updates in a model with embeddings as wide as its layers: the
    recurrent ones and the (tied) embedding / decoder matrix."""
    return recurrent_parameters(hidden_size, hidden_size, layers) + vocab_size * hidden_size


def training_memory(model: ModelConfig, batch_size: int, seq_len: int) -> int:
    """About how many bytes a training run of this model needs: per weight, 4-byte copies for the weights, their
    gradients, AdamW's two moments, the best weights and a roll-back point (weights and moments); per token of a
    batch, what backward keeps of each layer's gates and states and of the logits."""
    weights = (model.vocab_size * model.embed_size + recurrent_parameters(model.hidden_size, model.embed_size,
                                                                          model.layers)
               + model.vocab_size * (1 if model.ties_weights else model.hidden_size + 1))
    per_token = model.layers * 8 * model.hidden_size + 3 * model.vocab_size + 2 * model.embed_size
    return 4 * (8 * weights + batch_size * seq_len * per_token)


def check_fits(needed: int, available: int | None, where: str) -> None:
    """Refuse a run that would need more memory than `available` (None: unknown, so allowed)."""
    require(available is None or needed <= available,
            f"this model needs about {_bytes(needed)} of memory to train, and {where} has "
            f"{_bytes(available or 0)} free",
            "use a smaller --hidden, --embed, --layers or --batch-size")


def _bytes(count: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if count < 1000:
            return f"{count:.0f} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:,.1f} TB"


def recurrent_parameters(hidden_size: int, embed_size: int, layers: int) -> int:
    """An LSTM's weights: per layer, four gates over [input, hidden] and two bias vectors."""
    return sum(4 * hidden_size * ((embed_size if layer == 0 else hidden_size) + hidden_size) + 8 * hidden_size
               for layer in range(layers))


@dataclass(frozen=True)
class Sampling:
    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None

    def __post_init__(self) -> None:
        require_finite("temperature", self.temperature, "0.8")
        require(self.temperature > 0, f"temperature {self.temperature} must be positive",
                "use e.g. --temperature 0.8")
        require(self.top_k is None or self.top_k >= 1, f"top-k {self.top_k} must be at least 1",
                "use e.g. --top-k 40, or leave it out")
        require(self.top_p is None or 0 < self.top_p <= 1, f"top-p {self.top_p} is outside (0, 1]",
                "use e.g. --top-p 0.9, or leave it out")


def check_model_options(cell: str, layers: int | None, hidden_size: int | None, embed_size: int | None) -> None:
    """Fail on bad model options before any work (the real config waits for the vocabulary size)."""
    def given_or(value: int | None) -> int:
        return 1 if value is None else value

    ModelConfig(vocab_size=2, cell=cell, layers=given_or(layers), hidden_size=given_or(hidden_size),
                embed_size=given_or(embed_size))


def require_at_least_one(option: str, value: int, example: int) -> None:
    require(value >= 1, f"{option} {value} must be at least 1", f"pass e.g. {option} {example}")


def check_completion_options(n: int, until: str, max_tokens: int, beam_width: int | None) -> None:
    _choice("--until", until, UNTIL)
    require_at_least_one("-n", n, 5)
    require_at_least_one("--max-tokens", max_tokens, 40)
    require(beam_width is None or beam_width >= n, f"--beam {beam_width} is smaller than -n {n}",
            f"use --beam {n} or more, or leave it out")
    for option, value, most in (("-n", n, MAX_COMPLETIONS), ("--beam", beam_width, MAX_BEAM_WIDTH),
                                ("--max-tokens", max_tokens, MAX_COMPLETION_TOKENS)):
        require(value is None or value <= most, f"{option} {value} is more than one request may ask for",
                f"use {option} {most} or less")


def check_export_format(fmt: str) -> None:
    _choice("--format", fmt, EXPORT_FORMATS)


def check_inspect_options(show: str, layer: int | None, units: list[int], count: int) -> None:
    """What can be checked before a model is loaded; its layers and width are checked against the model."""
    _choice("--show", show, SHOWN)
    require(layer is None or layer >= 1, f"--layer {layer} must be at least 1", "layers count from 1: --layer 1")
    require(all(unit >= 0 for unit in units), "--unit must be 0 or more", "units count from 0: --unit 0")
    require_at_least_one("--units", count, 3)


@dataclass(frozen=True)
class LongRangeConfig:
    """The long-range memory experiment (experiment.py): which gaps to score, which networks, their size and
    training; QUICK_LONG_RANGE is `--quick`."""
    gaps: tuple[int, ...] = (10, 25, 50, 100, 200)
    cells: tuple[str, ...] = ("lstm", "gru", "rnn")
    hidden_size: int = 64
    steps: int = 5000
    batch_size: int = 32
    lr: float = 2e-3
    clip: float = 1.0
    test_sequences: int = 500
    seed: int = 0

    def __post_init__(self) -> None:
        require(bool(self.gaps) and min(self.gaps) >= 1, "every gap must be at least 1", "e.g. --gaps 10,50,200")
        require(bool(self.cells), "no cell to train", "e.g. --cells lstm,gru,rnn")
        for cell in self.cells:
            _choice("cell", cell, CELLS)
        require_at_least_one("--hidden", self.hidden_size, 64)
        require_at_least_one("--steps", self.steps, 5000)
        require_finite("--lr", self.lr, "0.002")
        require(self.lr > 0, f"--lr {self.lr} must be positive", "pass e.g. --lr 0.002")
        check_seed("--seed", self.seed)

    @property
    def sequence_length(self) -> int:
        return max(self.gaps) + 2  # subject, the gap, the cue


QUICK_LONG_RANGE = LongRangeConfig(gaps=(10, 50, 100, 200), steps=1500, test_sequences=300)
