"""The option types every interface builds and the library checks once: frozen dataclasses, validated when
made, each default written once, each error naming its field (`errors.OptionError`). No torch."""

from .adaptation import (
    ADAPTATION_BY_LEVEL,
    MAX_CONTEXT_CHARS,
    SESSION_CACHE_WEIGHT,
    AdaptOptions,
    default_adaptation,
    session_adaptation,
)
from .checks import MAX_SEED
from .decoding import (
    CONTINUATION_CHARS,
    MAX_BEAM_WIDTH,
    MAX_COMPLETION_TOKENS,
    MAX_COMPLETIONS,
    MAX_LOGPROBS,
    MAX_PROMPT_CHARS,
    MAX_STOPS,
    SAMPLING_FIELDS,
    UNTIL,
    CompletionOptions,
    ContinuationOptions,
    GenerationOptions,
    Sampling,
    completion_options,
    generation_options,
)
from .editor import EditorOptions
from .lab import (
    CURRICULUM_LONG_RANGE,
    EXPORT_FORMATS,
    EXPORT_SUFFIXES,
    SHOWN,
    InspectOptions,
    LongRangeConfig,
    check_export_format,
    quick_long_range,
)
from .serving import ServeOptions, is_loopback
from .training import (
    BASE_AUTO,
    BASE_NONE,
    CELLS,
    DEFAULT_LAYERS,
    DEFAULT_LEVEL,
    DEFAULT_VOCAB_SIZE,
    DEVICES,
    LEVELS,
    NO_REGULARIZATION,
    PRECISIONS,
    REGULARIZERS,
    ModelShape,
    Regularization,
    TokenizerConfig,
    TrainConfig,
)

__all__ = ["ADAPTATION_BY_LEVEL", "MAX_CONTEXT_CHARS", "SESSION_CACHE_WEIGHT", "AdaptOptions", "default_adaptation",
           "session_adaptation", "MAX_SEED", "CONTINUATION_CHARS", "MAX_BEAM_WIDTH", "MAX_COMPLETION_TOKENS",
           "MAX_COMPLETIONS", "MAX_PROMPT_CHARS", "MAX_LOGPROBS", "MAX_STOPS", "SAMPLING_FIELDS", "UNTIL",
           "CompletionOptions", "ContinuationOptions", "GenerationOptions", "Sampling", "completion_options",
           "generation_options", "EXPORT_FORMATS", "EXPORT_SUFFIXES", "CURRICULUM_LONG_RANGE",
           "quick_long_range", "SHOWN", "InspectOptions", "LongRangeConfig", "check_export_format",
           "BASE_AUTO", "BASE_NONE", "CELLS", "DEFAULT_LAYERS", "DEFAULT_LEVEL", "DEFAULT_VOCAB_SIZE",
           "DEVICES", "LEVELS", "PRECISIONS", "ModelShape", "ServeOptions", "is_loopback", "EditorOptions",
           "Regularization", "REGULARIZERS", "NO_REGULARIZATION", "TokenizerConfig", "TrainConfig"]
