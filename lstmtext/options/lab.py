"""Options of the commands that look inside a model or take it elsewhere: inspect, the long-range experiment,
export. No torch."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, replace

from ..errors import BadInput
from .checks import check_at_least_one, check_choice, check_positive, check_seed, require_option
from .training import CELLS

SHOWN = ("forget", "input", "output", "candidate", "cell", "hidden")  # what `inspect` can colour text by
EXPORT_FORMATS = ("onnx", "torchscript")
EXPORT_SUFFIXES = {"onnx": ".onnx", "torchscript": ".pt"}
_ONNX_PACKAGES = ("onnx", "onnxscript")


@dataclass(frozen=True)
class InspectOptions:
    """What `inspect` shows: `show` for the given `units` of `layer` (1 is the bottom; None: the top), or for the
    `count` most telling units. The model's own layers and width are checked when it is run."""

    show: str = "forget"
    layer: int | None = None
    units: tuple[int, ...] = ()
    count: int = 3

    def __post_init__(self) -> None:
        check_choice("show", self.show, SHOWN)
        require_option(self.layer is None or self.layer >= 1, "layer", "{name} {value} must be at least 1",
                       "layers count from 1: {example}", value=self.layer, example=1)
        require_option(all(unit >= 0 for unit in self.units), "units", "{name} must be 0 or more",
                       "units count from 0: {example}", example=0)
        check_at_least_one("count", self.count, 3)


def check_export_format(fmt: str) -> None:
    """Refuse a format lstmtext cannot write, and ONNX where its packages are not installed."""
    check_choice("format", fmt, EXPORT_FORMATS)
    missing = [name for name in _ONNX_PACKAGES if fmt == "onnx" and importlib.util.find_spec(name) is None]
    if missing:
        raise BadInput(f"ONNX export needs {' and '.join(missing)}, which is not installed",
                       "pip install 'lstmtext[export]'")


@dataclass(frozen=True)
class LongRangeConfig:
    """The long-range memory experiment (lab/experiment.py): which gaps to score, which networks, their size and
    training. Without `curriculum` every training sequence has the longest gap, so gradients must cross all of it
    from the first step; with it, gaps are drawn from 1 to the longest, short ones often (CURRICULUM_LONG_RANGE).
    `quick_long_range` is `--quick`."""
    gaps: tuple[int, ...] = (10, 25, 50, 100)
    cells: tuple[str, ...] = ("lstm", "gru", "rnn")
    hidden_size: int = 64
    steps: int = 2000
    curriculum: bool = False
    batch_size: int = 32
    lr: float = 2e-3
    clip: float = 1.0
    test_sequences: int = 500
    seed: int = 0

    def __post_init__(self) -> None:
        require_option(bool(self.gaps) and min(self.gaps) >= 1, "gaps", "every gap must be at least 1",
                       "e.g. {example}", example="10,50,200")
        require_option(bool(self.cells), "cells", "no cell to train", "e.g. {example}", example="lstm,gru,rnn")
        for cell in self.cells:
            check_choice("cells", cell, CELLS)
        check_at_least_one("hidden_size", self.hidden_size, 64)
        check_at_least_one("steps", self.steps, 5000)
        check_positive("lr", self.lr, 0.002)
        check_seed("seed", self.seed)

    @property
    def sequence_length(self) -> int:
        return max(self.gaps) + 2  # subject, the gap, the cue


CURRICULUM_LONG_RANGE = LongRangeConfig(gaps=(10, 25, 50, 100, 200), steps=5000, curriculum=True)


def quick_long_range(config: LongRangeConfig) -> LongRangeConfig:
    """`--quick`: a shorter run of the same setting (about two minutes on 2 CPU cores)."""
    if config.curriculum:
        return replace(config, gaps=(10, 50, 100, 200), steps=1500, test_sequences=300)
    return replace(config, gaps=(10, 50, 100), steps=1000, test_sequences=300)
