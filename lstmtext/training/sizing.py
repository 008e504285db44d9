"""Why this model: every size a run leaves open, chosen from the corpus, the budget and this machine, top to bottom.

1. `plan_sizes`: this machine's training speed in each candidate precision (one probe serves both), the sizes
   (`choose_sizes`), and the precision decided by the speeds at the size that will be trained.
2. `speed.py`: the FLOP/s of an LSTM layer's forward and backward pass at a small and a large hidden size,
   turned into training tokens/s for a model of each hidden size.
3. `choose_sizes`: window and batch from the corpus; the hidden size that reads `TOKENS_PER_WEIGHT` tokens per
   weight within the budget (the compute-optimal size) and has no more weights than the corpus can teach.
4. `regularization_strength`: none, light or strong, from the passes over the corpus and the weights per token.
5. `peak_learning_rate`: from the hidden size.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

from ..core.config import recurrent_parameters, trained_weights
from ..core.device import PrecisionChoice, choose_precision, pick_device, precisions_to_measure
from ..options import DEFAULT_LAYERS, NO_REGULARIZATION, Regularization, TrainConfig
from . import distributed
from .speed import probe_speed, rate_at, training_speed

DEFAULT_SEQ_LEN = {"char": 64, "word": 35, "bpe": 64, "unigram": 64}
# Without --epochs/--max-steps/--max-time, train for about this many tokens (at least one epoch).
DEFAULT_TOKEN_BUDGET = 3_000_000
MAX_AUTO_EPOCHS = 30


@dataclass(frozen=True)
class Sizing:
    """What auto-sizing picked, and one line saying why."""

    hidden_size: int
    layers: int
    seq_len: int
    batch_size: int
    epochs: int | None
    regularization: Regularization  # resolved: none left to choose
    reason: str
    passes: float = 1.0  # over the training text, within the budget (an estimate for a time budget)


def plan_sizes(level: str, vocab_size: int, train_tokens: int, chars_per_token: float, training: TrainConfig,
               hidden_size: int | None, layers: int | None, regularization: Regularization,
               fine_tuning: bool = False) -> tuple[PrecisionChoice, Sizing]:
    """The precision a new run trains in and the sizes it leaves open, for a time budget at this machine's
    measured speed. Where auto must choose between fp32 and bf16, each is measured, the sizes are planned for
    bf16's speed, and the precision is decided by the speeds at the size bf16 would train (bf16's gain grows with
    the size). Under torchrun, where every process must choose alike, nothing is measured."""
    layers = layers or DEFAULT_LAYERS
    device = pick_device(training.device)
    candidates = precisions_to_measure(training.precision, device)
    wants_speed = training.max_time is not None

    def sizes(speed: Callable[[int], float] | None) -> Sizing:
        return choose_sizes(level, train_tokens, training, hidden_size, layers, regularization, speed,
                            chars_per_token, vocab_size, distributed.world_size(), fine_tuning)

    unmeasured = sizes(None)  # the corpus's choices; its batch is the one the probe times
    if distributed.launched_by_torchrun() or not (candidates or wants_speed):
        return choose_precision(training.precision, device), unmeasured
    chosen = None if candidates else choose_precision(training.precision, device)
    measured = probe_speed(device, candidates or (chosen.precision,), unmeasured.batch_size)
    speeds = {precision: training_speed(rates, level, vocab_size, layers) for precision, rates in measured.items()}
    planned = sizes(speeds["bf16" if "bf16" in speeds else next(iter(speeds))]) if wants_speed else unmeasured
    if chosen is not None:
        return chosen, planned
    at_size = {precision: rate_at(rates, planned.hidden_size) for precision, rates in measured.items()}
    precision = choose_precision(training.precision, device, at_size, f"{layers}×{planned.hidden_size}")
    if precision.precision == "bf16" or not wants_speed:
        return precision, planned
    return precision, sizes(speeds[precision.precision])


def choose_sizes(level: str, train_tokens: int, train: TrainConfig, hidden_size: int | None = None,
                 layers: int | None = None, regularization: Regularization = Regularization(),
                 tokens_per_second: Callable[[int], float] | None = None, chars_per_token: float = 1.0,
                 vocab_size: int = 0, processes: int = 1, fine_tuning: bool = False) -> Sizing:
    """Pick sequence length, batch size, hidden size, layers and regularization from the corpus and the budget.

    Values the user set are kept. The hidden size is the largest that reads `TOKENS_PER_WEIGHT` tokens per
    weight within the budget (the compute-optimal size) and has no more weights than the corpus can teach.
    A time budget is turned into tokens by `tokens_per_second(hidden_size)`, this machine's measured training
    speed; without that measure, only the corpus decides. Regularization follows from the passes over the
    corpus the budget allows and the weights (`vocab_size` embeddings included) per training token.
    """
    seq_len = train.seq_len or DEFAULT_SEQ_LEN[level]
    batch_size, batch_note = _batch_size(train, train_tokens, seq_len, processes)
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
    strength = regularization_strength(passes, weights_per_token, fine_tuning)
    reason = (f"{train_tokens:,} training tokens and a budget of {budget} (about {passes:.1f} passes): "
              f"{layers}×{hidden_size} {level}-level model, batch {batch_size} × {seq_len} tokens{batch_note}, "
              f"{'no' if strength == 'none' else strength} regularization")
    return Sizing(hidden_size, layers, seq_len, batch_size, epochs,
                  resolve_regularization(regularization, strength, level), reason, passes)


def _batch_size(train: TrainConfig, train_tokens: int, seq_len: int, processes: int) -> tuple[int, str]:
    """The batch (and a note when the user's was lowered): at most one stream per window of the corpus, and an
    automatic one splits evenly over `processes`. Small corpora get small batches: more updates per epoch
    matter more than throughput there."""
    batch_size = train.batch_size or max(4, min(32, train_tokens // (seq_len * 50)))
    most_streams = max(1, train_tokens // (seq_len + 1))
    note = ""
    if batch_size > most_streams:
        if train.batch_size:
            note = f" (batch size {train.batch_size:,} lowered: the corpus has {most_streams:,} windows)"
        batch_size = most_streams
    if train.batch_size is None:
        batch_size = max(processes, batch_size // processes * processes)
    return batch_size, note


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


def regularization_strength(passes: float, weights_per_token: float, fine_tuning: bool = False) -> str:
    """None for about one pass over the corpus: it leaves nothing to overfit, and dropout would only slow
    learning. Beyond, light or strong by the overfitting risk: the passes times the weights (embeddings
    included) each training token has to teach. A few passes want a little of each (it also carries better to
    text unlike the corpus); a small corpus seen many times, or far more weights than tokens, needs them all,
    strongly. Measured on tinyshakespeare (held-out last 10%, 300 s): char 2×256 (risk 7) none 1.521
    nats/char, light 1.469, strong 1.537; bpe 3×256 (risk 56) light 1.501, strong 1.526; word 3×192 (risk 90)
    light 1.854, strong 1.784. A model being fine-tuned has learned most of what it needs: read fewer than
    FEW_PASSES times, light."""
    if passes < 1.5:
        return "none"
    if fine_tuning and passes < FEW_PASSES:
        return "light"  # see FINE_TUNING_LR_SHARE's figures
    return "light" if passes * weights_per_token < _STRONG_REGULARIZATION_RISK else "strong"


_STRONG_REGULARIZATION_RISK = 75
_REGULARIZATION_PRESETS = {
    "none": NO_REGULARIZATION,
    "light": Regularization(dropout=0.1, input_dropout=0.05, embed_dropout=0.05, weight_drop=0.1, activation_reg=1.0,
                            temporal_reg=1.0),
    "strong": Regularization(dropout=0.3, input_dropout=0.15, embed_dropout=0.1, weight_drop=0.3, activation_reg=2.0,
                             temporal_reg=1.0),
}


def resolve_regularization(regularization: Regularization, strength: str, level: str) -> Regularization:
    """Every regularizer's value: the user's where set, else the preset of this strength."""
    preset = _REGULARIZATION_PRESETS[strength]
    if regularization.embed_dropout is None and level == "char":
        preset = replace(preset, embed_dropout=0.0)  # a character dropped everywhere is not a word made unknown
    return replace(preset, **{name: value for name, value in asdict(regularization).items() if value is not None})


def peak_learning_rate(hidden_size: int, fine_tuning: bool = False, passes: float = 1.0) -> float:
    """AdamW's peak rate: 6e-3 up to hidden size 256 (measured best for 2-minute char models, 1e-2 no
    better), falling as 1/sqrt(width) above it, as wider layers take bigger steps from the same rate; a model
    being fine-tuned, a share of that: FINE_TUNING_LR_SHARE, or twice it where the budget reads the corpus fewer
    than FEW_PASSES times (more text to learn, less to overfit)."""
    share = 1.0
    if fine_tuning:
        share = FINE_TUNING_LR_SHARE * (2 if passes < FEW_PASSES else 1)
    return 6e-3 * min(1.0, (256 / hidden_size) ** 0.5) * share


def layer_lr_decay(fine_tuning: bool) -> float:
    """How much slower each recurrent layer learns than the one above it (schedule.layer_groups)."""
    return FINE_TUNING_LAYER_LR_DECAY if fine_tuning else 1.0


# Fine-tuning a 3×512 bpe base model (20 minutes into its training) on the first 75 KB of tinyshakespeare's
# training part, 150 steps (about 60 s on a quiet machine), scored on the held-out last 10%: peak rate 4.2e-3 (as
# from scratch) 2.696 bits/char, 2e-3 2.604, 1e-3 2.528, 5e-4 2.505; 1e-3 with ULMFiT's per-layer decay of 2.6
# 2.499. (Light instead of strong regularization at 1e-3: 2.519.)
# The same with the built-in model of this release (the default: strong regularization, per-layer decay 2.6),
# scored likewise: on the first 75 KB in 60 s (about 9 passes) a quarter of the rate (1.06e-3) against about
# half (2e-3): tinyshakespeare 2.322 against 2.345, pride-and-prejudice 1.490 and 1.491; on tinyshakespeare's
# whole training part in 300 s (2.9 passes): 1.951 against 1.914. Whole training parts in 300 s (about 4
# passes), light regularization against strong: tinyshakespeare 1.915 against 1.939 (none 1.910),
# pride-and-prejudice 1.367 against 1.391.
FINE_TUNING_LR_SHARE = 0.25
FEW_PASSES = 5
FINE_TUNING_LAYER_LR_DECAY = 2.6
