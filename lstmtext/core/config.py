"""The model's architecture, resolved (every size chosen), and weight counts. No torch."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from ..options import DEFAULT_LAYERS, NO_REGULARIZATION, REGULARIZERS, ModelShape, Regularization
from ..options.checks import require


@dataclass(frozen=True)
class ModelConfig:
    """A network's resolved shape (`ModelShape`'s fields, each size chosen), its vocabulary and softmax, and the
    training-time regularizers resolved (`Regularization`, none left to choose; see model.py). A model file holds
    it flat: the shape's fields, `softmax_cutoffs`, then the regularizers'."""

    vocab_size: int
    cell: str = ModelShape.cell
    layers: int = DEFAULT_LAYERS
    hidden_size: int = 256
    embed_size: int = 256
    tie_weights: bool = ModelShape.tie_weights
    softmax_cutoffs: tuple[int, ...] = ()  # where an adaptive softmax's clusters start; (): a full softmax
    regularization: Regularization = NO_REGULARIZATION

    @property
    def regularized(self) -> bool:
        """Whether training needs the layer-by-layer path (any dropout or weight drop)."""
        taken = self.regularization
        return any((taken.dropout, taken.input_dropout, taken.embed_dropout, taken.weight_drop))

    @property
    def ties_weights(self) -> bool:
        """The decoder shares the embedding matrix only when their shapes agree (never an adaptive softmax)."""
        return self.tie_weights and self.embed_size == self.hidden_size and not self.softmax_cutoffs

    def to_dict(self) -> dict:
        flat = asdict(self)
        regularization = flat.pop("regularization")
        return {**flat, **regularization}

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        """The settings a model file holds, checked as the options they were made from (built from checked
        options, a config is not checked again); a regularizer a file does not name is off."""
        shape = {item.name for item in fields(ModelShape)}
        regularization = Regularization(**{**asdict(NO_REGULARIZATION), **_picked(data, REGULARIZERS)})
        ModelShape(**_picked(data, shape))
        config = cls(**_picked(data, {"vocab_size", *shape}), softmax_cutoffs=tuple(data.get("softmax_cutoffs") or ()),
                     regularization=regularization)
        require(list(config.softmax_cutoffs) == sorted(set(config.softmax_cutoffs))
                and all(0 < cutoff < config.vocab_size for cutoff in config.softmax_cutoffs),
                "the adaptive softmax's cutoffs do not fit the vocabulary", "train the model again")
        require(config.vocab_size > 1, "the vocabulary has fewer than 2 pieces", "train on more text")
        return config


def _picked(data: dict, names) -> dict:
    """The entries of `data` named in `names` that are set."""
    return {name: data[name] for name in names if data.get(name) is not None}


def trained_weights(hidden_size: int, layers: int, vocab_size: int) -> int:
    """The weights a training run updates in a model with embeddings as wide as its layers: the recurrent ones
    and the (tied) embedding / decoder matrix."""
    return recurrent_parameters(hidden_size, hidden_size, layers) + vocab_size * hidden_size


def computed_weights(hidden_size: int, layers: int, vocab_size: int, level: str) -> int:
    """The weights each training token is multiplied with: the recurrent ones and the decoder's, of which an
    adaptive softmax computes about its head (the shortlist) only."""
    outputs = softmax_cutoffs(vocab_size, level)[:1] or (vocab_size,)
    return recurrent_parameters(hidden_size, hidden_size, layers) + outputs[0] * hidden_size


# Word vocabularies at least this big get an adaptive softmax (core/softmax.py); below, a full one (tied to the
# embedding) is cheap. Subword vocabularies always get a full, tied one: a 3×512 bpe model with 8,192 pieces, in
# bf16 on the base corpus, was still at the unigram loss (6.84 nats) after 150 steps with an adaptive softmax, and
# at 5.44 after 100 with a tied full one.
ADAPTIVE_SOFTMAX_FROM = 4096
_CLUSTER_STARTS = (2000, 8000, 32000)  # the shortlist's size, then where each rarer cluster starts


def softmax_cutoffs(vocab_size: int, level: str) -> tuple[int, ...]:
    """Where the adaptive softmax's clusters start for this vocabulary; () for a full softmax."""
    if level != "word" or vocab_size < ADAPTIVE_SOFTMAX_FROM:
        return ()
    return tuple(start for start in _CLUSTER_STARTS if vocab_size - start >= vocab_size // 8)  # no tiny cluster


def recurrent_parameters(hidden_size: int, embed_size: int, layers: int) -> int:
    """An LSTM's weights: per layer, four gates over [input, hidden] and two bias vectors."""
    return sum(4 * hidden_size * ((embed_size if layer == 0 else hidden_size) + hidden_size) + 8 * hidden_size
               for layer in range(layers))
