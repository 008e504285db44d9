"""What a model file's header may hold: every field lstmtext reads, with its type and range, checked in one place
when a file is read — so that each reader can take a field for what it says it is, and a damaged or hostile
header is one clear error, never a traceback. Fields this version does not know are left alone (a newer file
may have more); a field that is missing or null is not checked. No torch."""

from __future__ import annotations

import math
from collections.abc import Callable

from ..options import REGULARIZERS

_MOST = 10 ** 15  # no count in a model file comes near this: a larger one is damage, not a setting


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MOST


def _number(value: object) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) <= _MOST
            and math.isfinite(value))


def _text(value: object) -> bool:
    return isinstance(value, str) and len(value) <= 100_000


def _flag(value: object) -> bool:
    return isinstance(value, bool)


_KINDS: dict[Callable[[object], bool], str] = {_count: "a whole number from 0", _number: "a finite number",
                                               _text: "a string", _flag: "true or false"}


class ListOf:
    def __init__(self, item: object) -> None:
        self.item = item


Schema = dict  # field → a kind, a nested Schema (a JSON object), or ListOf(either)

_ADAPTATION: Schema = {"lr": _number, "decay": _number, "window": _count, "batch": _count, "all_layers": _flag,
                       "cache_size": _count, "cache_weight": _number, "cache_sharpness": _number}
HEADER: Schema = {
    "lstmtext_version": _text,
    "created": _text,
    "model": {"vocab_size": _count, "cell": _text, "layers": _count, "hidden_size": _count, "embed_size": _count,
              "tie_weights": _flag, "softmax_cutoffs": ListOf(_count), **dict.fromkeys(REGULARIZERS, _number)},
    "tokenizer": {"level": _text, "vocab_size": _count},
    "training": {"seq_len": _count, "batch_size": _count, "lr": _number, "weight_decay": _number,
                 "layer_lr_decay": _number, "clip": _number, "warmup_steps": _count, "epochs": _number,
                 "max_steps": _count, "max_time": _number, "eval_every": _count, "eval_tokens": _count,
                 "val_fraction": _number, "seed": _count, "precision": _text, "device": _text,
                 "sample_length": _count, "checkpoint_every": _count, "checkpoint_minutes": _number,
                 "chrono_init": _flag, "learn_held_out": _flag},
    "adaptation": _ADAPTATION,
    "corpus": {"name": _text, "bytes": _count, "chars": _count, "sha256": _text, "tokens": _count},
    "metrics": {"val_loss": _number, "val_perplexity": _number, "val_bits_per_char": _number, "best_step": _count,
                "held_out_bits_per_char": _number},
    "run": {"steps": _count, "tokens_seen": _count, "train_seconds": _number, "total_seconds": _number,
            "device": _text, "precision": _text, "parameters": _count, "sizing": _text},
    "held_out": {"tokens": _count, "learned": {"tokens": _count, "bits_per_char": _number,
                                               "adaptation": _ADAPTATION}},
    "card": _text,  # the built-in model's card: what it learned from, its licences, how it was made
    "base": {"name": _text, "sha256": _text, "reason": _text},  # the model a fine-tuned one started from
    "adapted": ListOf({"from": _text, "steps": _count, "adaptation": _ADAPTATION,
                       "texts": ListOf({"name": _text, "chars": _count, "tokens": _count})}),
}
REQUIRED = ("model", "tokenizer", "model.vocab_size", "tokenizer.level")


def header_problem(header: object) -> str | None:
    """What is wrong with a model file's header, in a few words naming the field; None if nothing is."""
    for required in REQUIRED:
        value: object = header
        for part in required.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is None:
            return f"'{required}' is missing"
    return _problem(header, HEADER, "")


def _problem(value: object, schema: object, where: str) -> str | None:
    if value is None:
        return None
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            return f"{_named(where, 'the header')} is {json_kind(value)}, not an object"
        for field, inner in schema.items():
            if (problem := _problem(value.get(field), inner, f"{where}.{field}" if where else field)) is not None:
                return problem
        return None
    if isinstance(schema, ListOf):
        if not isinstance(value, list) or len(value) > 10_000:
            return f"'{where}' is {json_kind(value)}, not a list"
        return next((problem for item in value if (problem := _problem(item, schema.item, where)) is not None), None)
    if not schema(value):
        shown = repr(value) if isinstance(value, (int, float, bool)) and len(repr(value)) < 30 else json_kind(value)
        return f"'{where}' is {shown}, not {_KINDS[schema]}"
    return None


def _named(where: str, default: str) -> str:
    return f"'{where}'" if where else default


def json_kind(value: object) -> str:
    """What a JSON value is, in words."""
    if value is None:
        return "null or missing"
    return {str: "a string", list: "a list", bool: "true or false", int: "a number", float: "a number"}.get(
        type(value), "an object")
