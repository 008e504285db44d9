"""lstmtext: train an LSTM language model on your own text, then complete and generate in its style.

The public API is the names below, each imported from its home on first use, so that `import lstmtext` (and the
CLI's --help) does not pay for importing torch: the model API (`load`, `train`, `LanguageModel`, ...), torch-free
helpers every interface needs (the model store, text and output-file checks, the machine's free cores), and the
option types of `lstmtext.options`. The interfaces live beside it: `lstmtext.server` (`serve`, `create_app`),
`lstmtext.lsp.server` (`language_server`) and the CLI, `lstmtext.cli`.
"""

from typing import TYPE_CHECKING

from .version import __version__

# What import readers, IDEs and type checkers see (`X as X`: a re-export); at run time __getattr__ imports each
# name from _HOMES on first use. tests/test_house.py checks that the two agree.
if TYPE_CHECKING:
    from .api import LanguageModel as LanguageModel
    from .api import load as load
    from .core.bundle import load_header as load_header
    from .core.config import ModelConfig as ModelConfig
    from .core.files import atomic_write as atomic_write
    from .core.files import check_output_file as check_output_file
    from .core.machine import use_free_cores as use_free_cores
    from .core.model_header import ModelHeader as ModelHeader
    from .core.store import ModelStore as ModelStore
    from .core.store import StoredModel as StoredModel
    from .core.store import check_name as check_name
    from .core.store import default_model_name as default_model_name
    from .core.textfile import check_path as check_path
    from .core.textfile import check_text as check_text
    from .core.textfile import decode_utf8 as decode_utf8
    from .core.tokenizer_stats import TokenizerStats as TokenizerStats
    from .engine import Engine as Engine
    from .engine import Job as Job
    from .lab.activations import Inspection as Inspection
    from .lab.experiment import LongRangeResult as LongRangeResult
    from .lab.experiment import run_long_range as run_long_range
    from .results import Completion as Completion
    from .results import Continuation as Continuation
    from .results import Evaluation as Evaluation
    from .results import TokenScore as TokenScore
    from .results import TokenStep as TokenStep
    from .session import Session as Session
    from .trainer import TrainResult as TrainResult
    from .trainer import save_tokenizer as save_tokenizer
    from .trainer import train as train
    from .trainer import train_tokenizer as train_tokenizer
    from .training.progress import EvalReport as EvalReport
    from .training.progress import StepReport as StepReport
    from .training.progress import TrainObserver as TrainObserver
    from .training.progress import TrainPlan as TrainPlan

_HOMES = {
    "api": ("load", "LanguageModel"),
    "trainer": ("train", "train_tokenizer", "save_tokenizer", "TrainResult"),
    "engine": ("Engine", "Job"),
    "results": ("Completion", "TokenScore", "Evaluation", "Continuation", "TokenStep"),
    "session": ("Session",),
    "core.store": ("ModelStore", "StoredModel", "check_name", "default_model_name"),
    "core.textfile": ("check_path", "check_text", "decode_utf8"),
    "core.files": ("atomic_write", "check_output_file"),
    "core.machine": ("use_free_cores",),
    "core.bundle": ("load_header",),
    "core.model_header": ("ModelHeader",),
    "core.config": ("ModelConfig",),
    "core.tokenizer_stats": ("TokenizerStats",),
    "training.progress": ("TrainObserver", "TrainPlan", "StepReport", "EvalReport"),
    "lab.activations": ("Inspection",),
    "lab.experiment": ("run_long_range", "LongRangeResult"),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}
__all__ = ["__version__", *_HOME_OF]


def __getattr__(name: str):
    if name in _HOME_OF:
        import importlib

        return getattr(importlib.import_module(f".{_HOME_OF[name]}", __name__), name)
    raise AttributeError(f"module 'lstmtext' has no attribute {name!r}")
