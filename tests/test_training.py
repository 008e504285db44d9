import math

import pytest
import torch

import lstmtext
from lstmtext.config import TokenizerConfig, TrainConfig, choose_sizes
from lstmtext.errors import CorpusError
from lstmtext.training import learning_rate

from .conftest import TINY_TRAINING


class Recorder:
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


def test_validation_loss_falls_and_the_best_model_is_kept(tiny_corpus, tmp_path):
    recorder = Recorder()
    result = lstmtext.train(tiny_corpus, training=TrainConfig(**{**TINY_TRAINING, "max_steps": 60}), layers=1,
                            hidden_size=48, out=tmp_path / "m.lstm", observer=recorder)
    losses = [e.val_loss for e in recorder.evals]
    assert len(losses) == 6 and losses[-1] < losses[0] - 0.3
    assert result.val_loss == min(losses)
    assert lstmtext.load(tmp_path / "m.lstm").header["metrics"]["val_loss"] == min(losses)
    assert [s.step for s in recorder.steps] == list(range(1, 61))
    assert recorder.notes and "char-level" in recorder.notes[0]
    assert all(e.bits_per_char == pytest.approx(e.val_loss / math.log(2)) for e in recorder.evals)  # char level


def test_same_seed_gives_the_same_model(tiny_corpus, tmp_path):
    config = TrainConfig(**{**TINY_TRAINING, "max_steps": 5})
    for name in ("a", "b"):
        lstmtext.train(tiny_corpus, training=config, layers=1, hidden_size=16, out=tmp_path / f"{name}.lstm")
    a, b = (lstmtext.load(tmp_path / f"{n}.lstm").model.state_dict() for n in "ab")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_max_time_stops_training(tiny_corpus, tmp_path):
    config = TrainConfig(seq_len=32, batch_size=4, max_time=1.0, seed=1)
    result = lstmtext.train(tiny_corpus, training=config, layers=1, hidden_size=16, out=tmp_path / "m.lstm")
    assert result.elapsed < 5.0 and result.steps >= 1


@pytest.mark.parametrize("level", ["word", "bpe", "unigram"])
def test_every_level_trains(tiny_corpus, tmp_path, level):
    result = lstmtext.train(tiny_corpus, tokenizer=TokenizerConfig(level, 400 if level != "word" else 200),
                            training=TrainConfig(**{**TINY_TRAINING, "max_steps": 3}), layers=1, hidden_size=16,
                            out=tmp_path / "m.lstm")
    model = lstmtext.load(result.path)
    assert model.tokenizer.level == level and math.isfinite(result.val_loss)


def test_a_failed_run_leaves_the_existing_model_alone(tiny_corpus, tmp_path, user_store):
    lstmtext.train(tiny_corpus, training=TrainConfig(**{**TINY_TRAINING, "max_steps": 2}), layers=1,
                   hidden_size=16, name="keep")
    before = user_store.path_for("keep").read_bytes()
    short = tmp_path / "short.txt"
    short.write_text("too short\n")
    with pytest.raises(CorpusError, match="too short"):
        lstmtext.train(short, training=TrainConfig(seq_len=64), name="keep")
    assert user_store.path_for("keep").read_bytes() == before
    assert user_store.default_name() == "keep"


def test_learning_rate_warms_up_then_decays_to_a_tenth():
    config = TrainConfig(lr=1e-2, warmup_steps=10)
    assert learning_rate(config, 0, 0.0, 1000) == pytest.approx(1e-3)
    assert learning_rate(config, 9, 0.01, 1000) == pytest.approx(1e-2)
    assert learning_rate(config, 500, 0.5, 1000) == pytest.approx(1e-2 * 0.55)
    assert learning_rate(config, 1000, 1.0, 1000) == pytest.approx(1e-3)


def test_auto_sizing_grows_with_the_corpus_and_keeps_user_choices():
    small = choose_sizes("char", 20_000, TrainConfig())
    large = choose_sizes("char", 5_000_000, TrainConfig())
    assert small.hidden_size < large.hidden_size and small.batch_size < large.batch_size
    assert small.epochs > large.epochs >= 1
    fixed = choose_sizes("char", 20_000, TrainConfig(seq_len=16, batch_size=3), hidden_size=99, layers=4)
    assert (fixed.seq_len, fixed.batch_size, fixed.hidden_size, fixed.layers) == (16, 3, 99, 4)
    assert "20,000 training tokens" in small.reason
