"""Shared fixtures: a tiny corpus cut from data/, a tiny trained model, and a model store in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from lstmtext.config import TokenizerConfig, TrainConfig
from lstmtext.store import ModelStore

DATA = Path(__file__).resolve().parent.parent / "data"
TINY_TRAINING = dict(seq_len=32, batch_size=4, max_steps=30, eval_every=10, seed=7)


@pytest.fixture(autouse=True)
def user_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModelStore:
    """Every test gets its own empty model store, so none touches the real user folder."""
    monkeypatch.setenv("LSTMTEXT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LSTMTEXT_MODEL", raising=False)
    return ModelStore()


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
