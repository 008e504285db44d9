"""What a model file says about itself, typed: `ModelHeader.from_dict` reads the header of every file lstmtext has
written (a section an older file lacks is None; fields a newer one adds are kept whole in `extra`), `to_dict`
writes it back. The header's JSON is checked field by field before it gets here (header.py). No torch."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from ..options.adaptation import AdaptOptions
from .config import ModelConfig


def _split(cls: type, data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The entries of `data` that are fields of `cls`, and the others."""
    names = {item.name for item in fields(cls)}
    return ({key: value for key, value in data.items() if key in names},
            {key: value for key, value in data.items() if key not in names})


@dataclass(frozen=True)
class CorpusSummary:
    """The text a model was trained on."""

    name: str | None = None
    bytes: int | None = None
    chars: int | None = None
    sha256: str | None = None
    tokens: int | None = None

    @property
    def chars_per_token(self) -> float:
        return self.chars / self.tokens if self.chars and self.tokens else 1.0


@dataclass(frozen=True)
class Metrics:
    """How well the saved weights read the corpus's held-out end (nats per token, bits per character)."""

    val_loss: float | None = None
    val_perplexity: float | None = None
    val_bits_per_char: float | None = None
    best_step: int | None = None
    held_out_bits_per_char: float | None = None  # read as it was learned, where it was


@dataclass(frozen=True)
class RunSummary:
    """How the training run went."""

    steps: int | None = None
    tokens_seen: int | None = None
    train_seconds: float | None = None
    total_seconds: float | None = None
    device: str | None = None
    precision: str | None = None
    parameters: int | None = None
    sizing: str | None = None


@dataclass(frozen=True)
class BaseRecord:
    """The model a fine-tuned one started from, and why."""

    name: str | None = None
    sha256: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class AdaptedRecord:
    """One `LanguageModel.adapted` pass: the model it started from, the texts it learned, how."""

    source: str | None  # the file's "from"
    texts: tuple[dict, ...]  # {"name", "chars", "tokens"} each
    steps: int | None
    adaptation: AdaptOptions

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AdaptedRecord:
        return cls(data.get("from"), tuple(data.get("texts") or ()), data.get("steps"),
                   AdaptOptions.from_dict(data.get("adaptation") or {}))

    def to_dict(self) -> dict:
        return {"from": self.source, "texts": [dict(text) for text in self.texts], "steps": self.steps,
                "adaptation": self.adaptation.to_dict()}


@dataclass(frozen=True)
class ModelHeader:
    """A model file's header: what the model is (config, tokenizer), what it learned from and how (corpus,
    training settings, run, base, adaptation passes), how well (metrics, held-out end), and its card."""

    model: ModelConfig
    level: str  # the tokenizer's
    vocab_size: int
    lstmtext_version: str | None = None
    created: str | None = None
    training: Mapping[str, Any] | None = None  # the run's TrainConfig as it was resolved then
    adaptation: AdaptOptions | None = None  # how it learns as it reads; None: the level's defaults (older files)
    corpus: CorpusSummary | None = None
    metrics: Metrics | None = None
    run: RunSummary | None = None
    held_out: Mapping[str, Any] | None = None  # {"tokens", "learned": None or {"tokens", "bits_per_char", ...}}
    base: BaseRecord | None = None
    adapted: tuple[AdaptedRecord, ...] = ()  # oldest first
    card: str | None = None  # the built-in model's card
    extra: Mapping[str, Any] = field(default_factory=dict)  # sections a newer lstmtext wrote
    unknown: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # and fields within known ones
    nulls: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # fields a file wrote as null

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelHeader:
        present = {name: _split(kind, data[name]) for name, kind in _SECTIONS.items() if data.get(name)}
        typed = {name: _SECTIONS[name](**known) for name, (known, _) in present.items()}
        nulls = {name: tuple(key for key, value in data[name].items() if value is None)
                 for name in _SECTIONS if data.get(name)}
        return cls(ModelConfig.from_dict(data["model"]), data["tokenizer"]["level"],
                   data["tokenizer"].get("vocab_size") or data["model"]["vocab_size"],
                   data.get("lstmtext_version"), data.get("created"), data.get("training"),
                   AdaptOptions.from_dict(data["adaptation"]) if data.get("adaptation") else None,
                   adapted=tuple(AdaptedRecord.from_dict(item) for item in data.get("adapted") or ()),
                   held_out=data.get("held_out"), card=data.get("card"),
                   extra={key: value for key, value in data.items() if key not in _FIELDS},
                   unknown={name: others for name, (_, others) in present.items() if others},
                   nulls={name: keys for name, keys in nulls.items() if keys}, **typed)

    def to_dict(self) -> dict:
        data = {"lstmtext_version": self.lstmtext_version, "created": self.created, "model": self.model.to_dict(),
                "tokenizer": {"level": self.level, "vocab_size": self.vocab_size}, "training": self.training,
                "adaptation": self.adaptation.to_dict() if self.adaptation else None,
                "held_out": self.held_out, "card": self.card,
                **{name: _written(getattr(self, name), self.unknown.get(name, {}), self.nulls.get(name, ()))
                   for name in _SECTIONS}}
        if self.adapted:
            data["adapted"] = [record.to_dict() for record in self.adapted]
        return {**{key: value for key, value in data.items() if value is not None}, **self.extra}

    @property
    def seq_len(self) -> int | None:
        """The window the model was trained on, where its file says."""
        return (self.training or {}).get("seq_len")

    def with_adapted(self, record: AdaptedRecord) -> ModelHeader:
        return replace(self, adapted=(*self.adapted, record))


def _written(section: object, unknown: Mapping[str, Any], nulls: tuple[str, ...]) -> dict | None:
    """A typed section as its file writes it: the fields it has (None only where the file wrote null), then those
    this version does not know."""
    if section is None:
        return None
    return {**{key: value for key, value in asdict(section).items() if value is not None or key in nulls},
            **unknown}


_SECTIONS = {"corpus": CorpusSummary, "metrics": Metrics, "run": RunSummary, "base": BaseRecord}
_FIELDS = {"lstmtext_version", "created", "model", "tokenizer", "training", "adaptation", "corpus", "metrics", "run",
           "held_out", "base", "adapted", "card"}
