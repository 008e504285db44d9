"""What a training run is: the request (what to train, where to save), its plan (tokenizer and settings,
resolved), the prepared run (model, data, where it computes) and the saved result."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from ..core.config import ModelConfig
from ..core.device import PrecisionChoice, choose_precision, pick_device
from ..core.model import RecurrentLM
from ..core.model_header import ModelHeader
from ..core.textfile import CorpusInfo
from ..core.tokenizer import Tokenizer, tokenizer_from_blobs
from ..options import BASE_AUTO, ModelShape, Regularization, TokenizerConfig, TrainConfig
from .checkpoint import Checkpoint
from .hooks import Runtime, TrainingData
from .progress import TrainOutcome
from .start import Start


@dataclass(frozen=True)
class TrainRequest:
    """What to train and where to save it; every option already checked. `base`: where the run starts (start.py)."""

    tokenizer: TokenizerConfig
    training: TrainConfig
    shape: ModelShape
    regularization: Regularization
    destination: Path
    resume: bool = False
    base: str = BASE_AUTO


@dataclass(frozen=True)
class RunPlan:
    """What a run trains: its tokenizer and its settings, resolved (sizes chosen, precision never "auto")."""

    tokenizer: Tokenizer
    training: TrainConfig
    model: ModelConfig
    sizing: str
    precision: PrecisionChoice
    start: Start | None = None  # None: resumed (the run's start was decided when it began)

    def to_dict(self, corpus_sha256: str) -> dict:
        return {"level": self.tokenizer.level, "training": self.training.to_dict(), "model": self.model.to_dict(),
                "sizing": self.sizing, "precision_reason": self.precision.reason, "corpus_sha256": corpus_sha256,
                "base": self.start.header() if self.start else None}

    @classmethod
    def from_checkpoint(cls, checkpoint: Checkpoint) -> RunPlan:
        saved = checkpoint.header["plan"]
        training = TrainConfig(**saved["training"])
        reason = saved.get("precision_reason", "chosen")
        precision = PrecisionChoice(training.precision, f"{reason}, when the run began")
        if training.precision == "auto":  # a checkpoint from before precisions were resolved in the plan
            precision = choose_precision("auto", pick_device(training.device))
            training = replace(training, precision=precision.precision)
        base = saved.get("base")
        return cls(tokenizer_from_blobs(saved["level"], checkpoint.tokenizer_blobs), training,
                   ModelConfig.from_dict(saved["model"]), saved["sizing"], precision,
                   Start.from_header(base) if base else None)


@dataclass(frozen=True)
class PreparedRun:
    request: TrainRequest
    plan: RunPlan
    corpus: CorpusInfo
    tokens: int
    network: RecurrentLM
    data: TrainingData
    runtime: Runtime
    checkpoint: Checkpoint | None  # the one to resume from
    notes: tuple[str, ...]  # what to tell the user before the run starts

    @property
    def checkpoint_path(self) -> Path:
        return checkpoint_path(self.request.destination)


@dataclass(frozen=True)
class SavedRun:
    network: RecurrentLM
    tokenizer: Tokenizer
    header: ModelHeader
    outcome: TrainOutcome


def checkpoint_path(model_path: Path) -> Path:
    """Where a run that saves to `model_path` keeps its checkpoint."""
    return model_path.with_suffix(".ckpt")
