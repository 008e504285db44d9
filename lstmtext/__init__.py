"""lstmtext: train an LSTM language model on your own text, then complete and generate in its style.

The public API is the names below, each imported from its home on first use, so that `import lstmtext` (and the
CLI's --help) does not pay for importing torch: the model API (`load`, `train`, `LanguageModel`, ...), torch-free
helpers every interface needs (the model store, text and output-file checks, the machine's free cores), and the
option types of `lstmtext.options`. Interfaces (cli/, and later a server or a language server) use nothing else.
"""

__version__ = "0.1.0"

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
    "core.tokenizer_stats": ("TokenizerStats",),
    "training.progress": ("TrainObserver", "TrainPlan", "StepReport", "EvalReport"),
    "lab.activations": ("Inspection",),
    "lab.experiment": ("run_long_range", "LongRangeResult"),
    "server": ("serve", "create_app"),
    "lsp.server": ("language_server",),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}
__all__ = ["__version__", *_HOME_OF]


def __getattr__(name: str):
    if name in _HOME_OF:
        import importlib

        return getattr(importlib.import_module(f".{_HOME_OF[name]}", __name__), name)
    raise AttributeError(f"module 'lstmtext' has no attribute {name!r}")
