"""Shared fixtures: a tiny corpus cut from data/, a tiny trained model, and a model store in tmp_path."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from lstmtext.core import store as store_module
from lstmtext.core.store import ModelStore
from lstmtext.options import TokenizerConfig, TrainConfig

PACKAGE_BUILTIN = store_module.BUILTIN_PATH

DATA = Path(__file__).resolve().parent.parent / "data"
TINY_TRAINING = dict(seq_len=32, batch_size=4, max_steps=30, eval_every=10, seed=7)
LEVELS = ["char", "word", "bpe", "unigram"]


@pytest.fixture(autouse=True)
def user_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModelStore:
    """Every test gets its own empty model store, so none touches the real user folder; and no built-in model
    (a test that wants it uses the `builtin` fixture), so that tiny models train from scratch, as they did."""
    monkeypatch.setenv("LSTMTEXT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LSTMTEXT_MODEL", raising=False)
    monkeypatch.setattr(store_module, "BUILTIN_PATH", tmp_path / "no-builtin.lstm")
    return ModelStore()


@pytest.fixture()
def builtin(monkeypatch: pytest.MonkeyPatch) -> Path:
    """The real built-in model, shipped in the package, back in place."""
    monkeypatch.setattr(store_module, "BUILTIN_PATH", PACKAGE_BUILTIN)
    return PACKAGE_BUILTIN


@pytest.fixture()
def run():
    """Run the CLI in-process: run("complete", "x", "-n", 2) → a Typer/Click result."""
    from typer.testing import CliRunner

    from lstmtext.cli import app

    runner = CliRunner()

    def invoke(*args, input=None):
        return runner.invoke(app, [str(a) for a in args], input=input)

    return invoke


class Recorder:
    """A training observer that keeps every report."""

    def __init__(self):
        self.evals, self.steps, self.notes = [], [], []

    def on_note(self, message):
        self.notes.append(message)

    def on_start(self, plan):
        self.plan = plan

    def on_step(self, report):
        self.steps.append(report)

    def on_eval(self, report):
        self.evals.append(report)


# `lstmtext train` options for a model trained in a second or two
CLI_TINY = ["--layers", "1", "--hidden", "16", "--seq-len", "16", "--batch-size", "2", "--max-steps", "4"]


@pytest.fixture()
def trained(run, tiny_corpus, user_store):
    """A tiny model trained through the CLI into the test's store as 'tiny', the default model."""
    result = run("train", tiny_corpus, "--name", "tiny", *CLI_TINY)
    assert result.exit_code == 0, result.output
    return user_store.path_for("tiny")


def assert_one_line_error(result, code, *words):
    """The CLI's contract for errors a user causes: one `error: what — fix` line, the exit code, no traceback."""
    assert result.exit_code == code
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and " — " in lines[0], result.stderr
    assert "Traceback" not in result.output
    for word in words:
        assert word in lines[0]


@pytest.fixture(scope="session")
def corpus_text() -> str:
    return (DATA / "corpus.txt").read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory, corpus_text: str) -> Path:
    """About 6 KB of the demo corpus, cut at a line end."""
    path = tmp_path_factory.mktemp("corpus") / "tiny.txt"
    path.write_text(corpus_text[: corpus_text.index("\n", 6000) + 1], encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory: pytest.TempPathFactory, tiny_corpus: Path) -> Path:
    """A one-layer char model trained for a few steps on the tiny corpus, saved to a file."""
    import lstmtext

    home = tmp_path_factory.mktemp("model-home")
    out = home / "tiny.lstm"
    lstmtext.train(tiny_corpus, tokenizer=TokenizerConfig("char"), training=TrainConfig(**TINY_TRAINING),
                   layers=1, hidden_size=32, out=out, store=ModelStore(root=home))
    return out


@pytest.fixture()
def tiny_model(tiny_model_path: Path):
    import lstmtext

    return lstmtext.load(tiny_model_path)


def write_lord_corpus(path: Path) -> None:
    """About 8 KB in which "my lo" always goes on as "my lord", while "long" also occurs."""
    rng = random.Random(3)
    who = ["The king", "The queen", "A rider", "The old guard", "Your brother", "The night", "A letter"]
    what = ["is here", "waits at the gate", "has gone to the river", "brings news", "will not sleep", "is long",
            "asks for you"]
    lines = []
    for _ in range(220):
        a, b = rng.choice(who), rng.choice(what)
        lines.append(rng.choice([f"{a} {b}, my lord.", f"Yes, my lord. {a} {b}.", f"My lord, {a.lower()} {b}.",
                                 f"I know, my lord, that {a.lower()} {b}."]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="session")
def lord_models(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One small model per tokenizer level, trained (about 3 s each) until it knows that "my lo" is "my lord"."""
    import lstmtext

    home = tmp_path_factory.mktemp("lord")
    corpus = home / "lord.txt"
    write_lord_corpus(corpus)
    # As validated: these models pin down decoding (healing, ghost text at a line's end), not what learning the
    # held-out end adds (tests/test_training.py checks that).
    training = TrainConfig(seq_len=32, batch_size=8, max_steps=700, eval_every=700, lr=1e-2, seed=1,
                           learn_held_out=False)
    return {level: lstmtext.train(corpus, tokenizer=TokenizerConfig(level), training=training, layers=1,
                                  hidden_size=64, out=home / f"{level}.lstm", store=ModelStore(root=home)).model
            for level in LEVELS}


class Scripted:
    """A stepper certain of each next byte of `text` (over a vocabulary whose first 256 tokens are the bytes)."""

    def __init__(self, text: str, vocab_size: int = 256) -> None:
        self.data, self.vocab_size = text.encode(), vocab_size

    def logits(self, position: int):
        import torch

        logits = torch.full((self.vocab_size,), -1e4)
        logits[self.data[position % len(self.data)]] = 0.0
        return logits

    def start(self):
        import torch

        return torch.zeros(1), self.logits(0)

    def step(self, tokens, position):
        return self.logits(int(position) + 1)[None], position + 1

    def single_stream(self, state):
        from lstmtext.decoding.inference import ModuleStream

        return ModuleStream(self, state)
