"""The long-range memory experiment: does a model keep a word in mind across G other words?

Each training sequence is a run of filler words in which one subject is named ("fire", "panda", …); G fillers
later comes the cue "so", and the word after it is decided by that subject alone ("smoke", "China", …), as in
"When there is fire … there is smoke". The fillers follow a rule that needs the last two words, and the models
also learn to predict them, so that — as in real text — the state must keep working on what it reads while it
holds the subject. Same-size LSTM, GRU and plain RNN models (one layer of `hidden_size` units, this package's
`RecurrentLM`) are trained for the same number of steps on the same sequences, then scored on fresh sequences:
accuracy at the dependent word for each gap (chance is 1 / subjects).

Two settings. Without a curriculum (the default) every training sequence has the longest gap: from the first
step the gradient that teaches "panda … China" must cross the whole gap, as Hochreiter & Schmidhuber's 1997 tasks
ask. A gated cell can carry it only if its gates start open, so the gates' biases are drawn as in chrono
initialization (Tallec & Ollivier 2018): each unit starts out keeping its memory for between 1 and the longest
gap steps; a plain RNN has no gate to open. With a curriculum, gaps are drawn from 1 to the longest, short ones
often: the models learn what the subject decides on short gaps first, then to keep it longer.

Seeded and deterministic on a CPU. Draws nothing: progress goes to a callback.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..core.config import ModelConfig
from ..core.device import seed_everything
from ..core.model import RecurrentLM, open_gates
from ..options import LongRangeConfig

PAIRS = (("fire", "smoke"), ("panda", "China"), ("bird", "nest"), ("river", "sea"), ("bee", "honey"),
         ("storm", "rain"), ("cat", "mouse"), ("key", "door"))
FILLERS = ("and", "the", "we", "watched", "slowly", "while", "a", "long", "quiet", "winter", "passed", "over",
           "hills", "near", "old", "town", "with", "bright", "grey", "stones")
CUE = "so"
VOCABULARY = tuple(s for s, _ in PAIRS) + tuple(a for _, a in PAIRS) + FILLERS + (CUE,)


@dataclass
class LongRangeResult:
    config: LongRangeConfig
    accuracy: dict[str, dict[int, float]] = field(default_factory=dict)  # cell → gap → share right
    parameters: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def chance(self) -> float:
        return 1 / len(PAIRS)

    def to_dict(self) -> dict:
        return {"gaps": list(self.config.gaps), "chance": self.chance,
                "accuracy": {cell: {str(g): a for g, a in by_gap.items()} for cell, by_gap in self.accuracy.items()},
                "parameters": self.parameters, "seconds": self.seconds,
                "settings": {"curriculum": self.config.curriculum, "hidden_size": self.config.hidden_size,
                             "steps": self.config.steps,
                             "batch_size": self.config.batch_size, "lr": self.config.lr, "seed": self.config.seed}}


def _fillers(count: int, length: int, generator: torch.Generator) -> torch.Tensor:
    """(count, length) filler ids: each word follows from the two before it, up to a coin flip."""
    words = len(FILLERS)
    out = torch.empty(count, length, dtype=torch.long)
    before = torch.randint(0, words, (count,), generator=generator)
    current = torch.randint(0, words, (count,), generator=generator)
    for t in range(length):
        out[:, t] = current
        coin = torch.randint(0, 2, (count,), generator=generator)
        before, current = current, (7 * current + 3 * before + coin) % words
    return out + 2 * len(PAIRS)


def make_sequences(gaps: torch.Tensor, length: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids (B, length) ending with the cue, one subject `gaps[b]` fillers before it; and the answers (B,)."""
    count = len(gaps)
    tokens = _fillers(count, length, generator)
    subjects = torch.randint(0, len(PAIRS), (count,), generator=generator)
    tokens[torch.arange(count), length - 2 - gaps] = subjects
    tokens[:, -1] = VOCABULARY.index(CUE)
    return tokens, subjects + len(PAIRS)


def render(tokens: torch.Tensor) -> str:
    """One sequence as words, e.g. for showing what the models read."""
    return " ".join(VOCABULARY[t] for t in tokens.tolist())


def _training_gaps(count: int, config: LongRangeConfig, generator: torch.Generator) -> torch.Tensor:
    """The longest gap every time; with a curriculum, log-uniform over 1..longest: short gaps often enough to
    learn what the subject decides, long ones to learn to keep it."""
    longest = max(config.gaps)
    if not config.curriculum:
        return torch.full((count,), longest, dtype=torch.long)
    draw = torch.rand(count, generator=generator) * math.log(longest)
    return draw.exp().round().long().clamp(1, longest)


def train_one(cell: str, config: LongRangeConfig, on_step: Callable[[int], None]) -> tuple[RecurrentLM, float]:
    seed_everything(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    model = RecurrentLM(ModelConfig(vocab_size=len(VOCABULARY), cell=cell, layers=1,
                                    hidden_size=config.hidden_size, embed_size=config.hidden_size))
    if not config.curriculum:  # its own generator: every cell still reads the same sequences
        open_gates(model, max(config.gaps), torch.Generator().manual_seed(config.seed + 1))
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr)
    started = time.perf_counter()
    model.train()
    for step in range(1, config.steps + 1):
        gaps = _training_gaps(config.batch_size, config, generator)
        tokens, answers = make_sequences(gaps, config.sequence_length, generator)
        logits, _ = model(tokens)  # (B, T, V)
        running_text = F.cross_entropy(logits[:, :-2].flatten(0, 1), tokens[:, 1:-1].flatten())
        loss = running_text + F.cross_entropy(logits[:, -1], answers)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip)
        optimizer.step()
        on_step(step)
    return model.eval(), time.perf_counter() - started


@torch.no_grad()
def accuracy_at(model: RecurrentLM, gap: int, config: LongRangeConfig) -> float:
    generator = torch.Generator().manual_seed(config.seed + 1_000_003 + gap)  # the same test for every cell
    tokens, answers = make_sequences(torch.full((config.test_sequences,), gap), config.sequence_length, generator)
    logits, _ = model(tokens)
    return float((logits[:, -1].argmax(-1) == answers).float().mean())


def run_long_range(config: LongRangeConfig, progress: Callable[[str, int], None] = lambda cell, step: None
                   ) -> LongRangeResult:
    """Train each of `config.cells` and score it at each gap; `progress(cell, step)` after every step."""
    result = LongRangeResult(config)
    for cell in config.cells:
        model, seconds = train_one(cell, config, lambda step, cell=cell: progress(cell, step))
        result.accuracy[cell] = {gap: round(accuracy_at(model, gap, config), 4) for gap in config.gaps}
        result.parameters[cell] = model.parameter_count()
        result.seconds[cell] = round(seconds, 1)
    return result
