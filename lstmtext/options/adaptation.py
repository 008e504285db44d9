"""How a model keeps learning from the text it reads (dynamic evaluation, Krause et al. 2018). No torch."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from .checks import check_at_least_one, check_at_most, check_finite, check_fraction, check_positive, require_option

MAX_ADAPT_WINDOW = 1024
MAX_ADAPT_BATCH = 64
MAX_CACHE_SIZE = 100_000
# A session learns from at most the last this many characters of a text it reads at once (a whole document
# passed as context): about 20 s for a char-level model on 2 CPU cores.
MAX_CONTEXT_CHARS = 100_000


@dataclass(frozen=True)
class AdaptOptions:
    """Read text `window` tokens at a time, `batch` windows together; after each batch is scored, take one
    gradient step on it: each weight moves by `lr` divided by the root mean square of its recent gradients
    (RMSprop, the statistics gathered from the text read so far), and then `decay` of the way back towards the
    trained weights. Every token is scored by weights that learned only from the text before it. Unless
    `all_layers`, a model of two layers or more keeps its embedding and first layer as trained.

    On top, a neural cache of the last `cache_size` positions read (0: none): each stored context votes for the
    token that followed it, exp(`cache_sharpness` · (cosine similarity - 1)), and the votes times `cache_weight`
    join the model's probabilities (see core/cache.py)."""

    lr: float = 1e-3
    decay: float = 0.0
    window: int = 32
    batch: int = 16
    all_layers: bool = False
    cache_size: int = 0
    cache_weight: float = 0.3
    cache_sharpness: float = 30.0

    def __post_init__(self) -> None:
        check_positive("lr", self.lr, 1e-3)
        check_fraction("decay", self.decay, 0.001)
        check_at_least_one("window", self.window, 32)
        check_at_most("window", self.window, MAX_ADAPT_WINDOW)
        check_at_least_one("batch", self.batch, 8)
        check_at_most("batch", self.batch, MAX_ADAPT_BATCH)
        require_option(self.cache_size >= 0, "cache_size", "{name} {value} must be 0 (no cache) or more",
                       "pass e.g. {example}", value=self.cache_size, example=2000)
        check_at_most("cache_size", self.cache_size, MAX_CACHE_SIZE)
        check_finite("cache_weight", self.cache_weight, 0.3)
        require_option(self.cache_weight >= 0, "cache_weight", "{name} {value} must be 0 (no cache) or more",
                       "pass e.g. {example}", value=self.cache_weight, example=0.3)
        check_positive("cache_sharpness", self.cache_sharpness, 30.0)

    @property
    def caches(self) -> bool:
        return self.cache_size > 0 and self.cache_weight > 0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> AdaptOptions:
        """From a model file's header; names this version does not know are left out."""
        known = {field.name for field in fields(cls)}
        return cls(**{name: value for name, value in values.items() if name in known})


# Measured on the held-out last 10% of tinyshakespeare and pride-and-prejudice under `lstmtext train
# --max-time 300` models of the first 90% (docs/training.md, "A model that keeps learning"): char 1e-3 (3e-4 to 4e-3
# tried), bpe and word 3e-3 (3e-4 to 1e-2 tried). Written into each model file when it is trained.
ADAPTATION_BY_LEVEL = {"char": AdaptOptions(lr=1e-3), "word": AdaptOptions(lr=3e-3), "bpe": AdaptOptions(lr=3e-3),
                       "unigram": AdaptOptions(lr=3e-3)}


def default_adaptation(level: str) -> AdaptOptions:
    return ADAPTATION_BY_LEVEL.get(level, AdaptOptions())


# While writing, a name typed twice should come back as ghost text from its first letters. Learning the weights
# from two lines does not do that; a neural cache does, if its votes outweigh the model's habits (beam search
# ranks whole continuations): a made-up name typed in two lines came back from "Zor" at weight 3, not at 1, with
# a small char-level model. Scoring wants it quieter (tinyshakespeare's tail: best near 0.3, and then only 0.5%
# better than adapting without it, at a quarter of the speed), so only sessions have one by default.
SESSION_CACHE_SIZE = 2000
SESSION_CACHE_WEIGHT = 3.0


def session_adaptation(options: AdaptOptions) -> AdaptOptions:
    """A model's adaptation settings for a writing session: with a cache that is heard."""
    return replace(options, cache_size=options.cache_size or SESSION_CACHE_SIZE, cache_weight=SESSION_CACHE_WEIGHT)
