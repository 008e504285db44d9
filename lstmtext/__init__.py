"""lstmtext: train an LSTM language model on your own text, then complete and generate in its style.

The API (`load`, `train`, `train_tokenizer`, `LanguageModel`) is imported on first use, so that
`import lstmtext` (and the CLI's --help) does not pay for importing torch.
"""

__version__ = "0.1.0"

_API_NAMES = ("load", "train", "train_tokenizer", "LanguageModel", "Completion", "TokenScore", "Evaluation",
              "TrainResult")
__all__ = ["__version__", *_API_NAMES]


def __getattr__(name: str):
    if name in _API_NAMES:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'lstmtext' has no attribute {name!r}")
