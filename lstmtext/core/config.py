"""The model's architecture, resolved (every size chosen), and weight counts. No torch."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from ..options import DEFAULT_LAYERS, ModelShape, Regularization
from ..options.checks import require


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
        """The same checks as the options it is built from (it is also read from model files)."""
        require(self.vocab_size > 1, "the vocabulary has fewer than 2 pieces", "train on more text")
        ModelShape(self.cell, self.layers, self.hidden_size, self.embed_size, self.tie_weights)
        Regularization(self.dropout, self.input_dropout, self.embed_dropout, self.weight_drop, self.activation_reg,
                       self.temporal_reg)

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


def trained_weights(hidden_size: int, layers: int, vocab_size: int) -> int:
    """The weights every training token updates in a model with embeddings as wide as its layers: the
    recurrent ones and the (tied) embedding / decoder matrix."""
    return recurrent_parameters(hidden_size, hidden_size, layers) + vocab_size * hidden_size


def recurrent_parameters(hidden_size: int, embed_size: int, layers: int) -> int:
    """An LSTM's weights: per layer, four gates over [input, hidden] and two bias vectors."""
    return sum(4 * hidden_size * ((embed_size if layer == 0 else hidden_size) + hidden_size) + 8 * hidden_size
               for layer in range(layers))
