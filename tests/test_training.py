import math
import os
import signal

import numpy as np
import pytest
import torch

import lstmtext
from lstmtext.cli.common import FlagSpelling
from lstmtext.core.config import recurrent_parameters
from lstmtext.errors import CorpusError, TrainingInterrupted
from lstmtext.options import Regularization, TokenizerConfig, TrainConfig
from lstmtext.training import loop
from lstmtext.training.checkpoint import load_checkpoint
from lstmtext.training.hooks import Faults
from lstmtext.training.loop import Trainer
from lstmtext.training.schedule import learning_rate
from lstmtext.training.sizing import TOKENS_PER_WEIGHT, choose_sizes

from .conftest import TINY_TRAINING, Recorder


def test_validation_loss_falls_and_the_best_model_is_kept(tiny_corpus, tmp_path):
    recorder = Recorder()
    result = lstmtext.train(tiny_corpus, training=TrainConfig(**{**TINY_TRAINING, "max_steps": 60}), layers=1,
                            hidden_size=48, out=tmp_path / "m.lstm", observer=recorder)
    losses = [e.val_loss for e in recorder.evals]
    assert len(losses) == 6 and losses[-1] < losses[0] - 0.3
    assert result.val_loss == min(losses)
    assert lstmtext.load(tmp_path / "m.lstm").header.metrics.val_loss == min(losses)
    assert [s.step for s in recorder.steps] == list(range(1, 61))
    assert recorder.notes[0].startswith("precision ") and "char-level" in recorder.notes[1]
    assert all(e.bits_per_char == pytest.approx(e.val_loss / math.log(2)) for e in recorder.evals)  # char level


def test_the_held_out_tail_of_the_corpus_is_never_trained_on(corpus_text, tmp_path, monkeypatch):
    body = corpus_text[:20_000].replace("~", "")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(body + "~" * 1_000, encoding="utf-8")  # the last 5%: within the 10% held out
    read, scored = [], []
    real_step, real_nll = Trainer._train_step, loop.stream_nll
    monkeypatch.setattr(Trainer, "_train_step", lambda self, inputs, targets, *rest: (
        read.append(np.concatenate([inputs, targets])), real_step(self, inputs, targets, *rest))[1])
    monkeypatch.setattr(loop, "stream_nll", lambda model, windows, *rest: real_nll(
        model, (scored.append(np.concatenate(window)) or window for window in windows), *rest))
    lstmtext.train(corpus, training=TrainConfig(**{**TINY_TRAINING, "epochs": 2, "max_steps": None}), layers=1,
                   hidden_size=16, out=tmp_path / "m.lstm")
    tokenizer = lstmtext.load(tmp_path / "m.lstm").tokenizer
    tilde = tokenizer.encode("~")[-1]
    assert tokenizer.piece(tilde) == "<0x7E>"  # the tokenizer never saw it either: spelled as a byte
    assert len(read) > 100 and not any((tokens == tilde).any() for tokens in read)
    assert sum((tokens == tilde).sum() for tokens in scored) > 0


def test_the_held_out_end_is_learned_after_validation_unless_told_not_to(tiny_corpus, tmp_path):
    models = {}
    for learn in (True, False):
        config = TrainConfig(**{**TINY_TRAINING, "max_steps": 10, "learn_held_out": learn})
        result = lstmtext.train(tiny_corpus, training=config, layers=2, hidden_size=16, out=tmp_path / f"{learn}.lstm")
        models[learn] = (result, lstmtext.load(tmp_path / f"{learn}.lstm"))
    (validated, learned), (same_validation, kept) = models[True], models[False]
    assert validated.val_loss == same_validation.val_loss  # measured before the held-out text is learned
    assert learned.header.held_out["learned"]["tokens"] == learned.header.held_out["tokens"] > 0
    assert kept.header.held_out["learned"] is None
    # what to expect of new text: the held-out end as it was read while learning it, else as validated
    assert validated.bits_per_char == learned.header.metrics.held_out_bits_per_char \
        == learned.header.held_out["learned"]["bits_per_char"] != validated.validated_bits_per_char
    assert same_validation.bits_per_char == same_validation.validated_bits_per_char
    before, after = kept.model.state_dict(), learned.model.state_dict()
    assert torch.equal(before["embedding.weight"], after["embedding.weight"])  # the lower layers stay as trained
    assert not torch.equal(before["rnn.weight_hh_l1"], after["rnn.weight_hh_l1"])


def test_same_seed_gives_the_same_model(tiny_corpus, tmp_path):
    # the precision pinned: under --precision auto, a busy machine can time bf16 faster in one run and not the next
    config = TrainConfig(**{**TINY_TRAINING, "max_steps": 5, "precision": "fp32"})
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


def test_a_time_budget_sizes_the_model_by_this_machines_speed():
    def speed(rate):
        return lambda hidden: rate / hidden ** 2  # tokens/s falls with the square of the hidden size

    budget = TrainConfig(max_time=100)
    slow = choose_sizes("char", 1_000_000, budget, tokens_per_second=speed(4e9))
    fast = choose_sizes("char", 1_000_000, budget, tokens_per_second=speed(4e11))
    assert slow.hidden_size < fast.hidden_size
    read = speed(4e9)(slow.hidden_size) * 100
    assert read >= TOKENS_PER_WEIGHT * recurrent_parameters(slow.hidden_size, slow.hidden_size, slow.layers)
    longer = choose_sizes("char", 1_000_000, TrainConfig(max_time=10_000), tokens_per_second=speed(4e9))
    assert longer.hidden_size > slow.hidden_size
    tiny = choose_sizes("char", 20_000, budget, tokens_per_second=speed(4e11))
    assert tiny.hidden_size < fast.hidden_size  # no more weights than the corpus can teach
    assert "passes" in slow.reason


def test_regularization_follows_the_passes_over_the_corpus_and_keeps_user_choices():
    one_pass = choose_sizes("word", 5_000_000, TrainConfig(epochs=1)).regularization
    many = choose_sizes("word", 20_000, TrainConfig(epochs=30)).regularization
    assert one_pass.dropout == one_pass.weight_drop == 0.0
    assert many.dropout > 0 and many.weight_drop > 0 and many.embed_dropout > 0
    mine = choose_sizes("word", 20_000, TrainConfig(epochs=30), regularization=Regularization(dropout=0.05,
                                                                                              weight_drop=0.0))
    assert mine.regularization.dropout == 0.05 and mine.regularization.weight_drop == 0.0
    assert mine.regularization.input_dropout == many.input_dropout
    assert choose_sizes("char", 20_000, TrainConfig(epochs=30)).regularization.embed_dropout == 0.0
    # The same passes over the same corpus: a 10,000-word vocabulary has far more weights to overfit than 65 chars.
    chars = choose_sizes("char", 300_000, TrainConfig(epochs=10), hidden_size=192, vocab_size=65)
    words = choose_sizes("word", 300_000, TrainConfig(epochs=10), hidden_size=192, vocab_size=10_000)
    assert chars.regularization.dropout < words.regularization.dropout
    assert "light regularization" in chars.reason and "strong regularization" in words.reason
    # A model being fine-tuned has learned most of what it needs: a few passes get light regularization.
    few = dict(hidden_size=512, layers=3, vocab_size=8_192)
    assert "strong" in choose_sizes("bpe", 300_000, TrainConfig(epochs=3), **few).reason
    assert "light" in choose_sizes("bpe", 300_000, TrainConfig(epochs=3), **few, fine_tuning=True).reason
    assert "strong" in choose_sizes("bpe", 30_000, TrainConfig(epochs=9), **few, fine_tuning=True).reason


class SignalAtStep(Recorder):
    """Sends this process `signals` (e.g. Ctrl-C's SIGINT) right after step `step`, as a user would."""

    def __init__(self, step, *signals):
        super().__init__()
        self.stop_step, self.signals = step, signals or (signal.SIGINT,)

    def on_step(self, report):
        super().on_step(report)
        if report.step == self.stop_step:
            for number in self.signals:
                os.kill(os.getpid(), number)


RESUMABLE = TrainConfig(**{**TINY_TRAINING, "max_steps": 24, "eval_every": 8, "checkpoint_every": 5,
                               "precision": "fp32"})  # bit-identical is promised in fp32; auto may differ by load


def train_tiny(corpus, out, **options):
    from lstmtext.core.store import ModelStore

    return lstmtext.train(corpus, tokenizer=TokenizerConfig("char"), training=RESUMABLE, layers=1, hidden_size=32,
                          out=out, store=ModelStore(root=out.parent / "home"), **options)


def assert_same_weights(a, b):
    expected = a.model.model.state_dict()
    for name, weight in b.model.model.state_dict().items():
        assert torch.equal(weight, expected[name]), name


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM])
def test_a_run_stopped_by_a_signal_and_resumed_ends_bit_identical(tiny_corpus, tmp_path, number):
    whole = train_tiny(tiny_corpus, tmp_path / "whole.lstm")
    assert not (tmp_path / "whole.ckpt").exists()  # a finished run leaves no checkpoint behind
    with pytest.raises(TrainingInterrupted) as stopped:
        train_tiny(tiny_corpus, tmp_path / "cut.lstm", observer=SignalAtStep(13, number))
    assert stopped.value.step == 13 and stopped.value.exit_code == 130
    assert (tmp_path / "cut.ckpt").exists() and not (tmp_path / "cut.lstm").exists()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handlers put back
    recorder = Recorder()
    resumed = train_tiny(tiny_corpus, tmp_path / "cut.lstm", resume=True, observer=recorder)
    assert recorder.steps[0].step == 14 and "resuming at step 13" in recorder.notes[1]
    assert recorder.notes[0].startswith("precision ") and recorder.notes[0].endswith("when the run began")
    assert resumed.steps == whole.steps == 24 and resumed.val_loss == whole.val_loss
    assert_same_weights(whole, resumed)
    assert not (tmp_path / "cut.ckpt").exists()


def test_a_second_ctrl_c_stops_at_once_and_the_last_checkpoint_still_resumes(tiny_corpus, tmp_path):
    whole = train_tiny(tiny_corpus, tmp_path / "whole.lstm")
    with pytest.raises(TrainingInterrupted, match="the last checkpoint is") as stopped:
        train_tiny(tiny_corpus, tmp_path / "cut.lstm", observer=SignalAtStep(13, signal.SIGINT, signal.SIGINT))
    assert stopped.value.step is None
    assert load_checkpoint(tmp_path / "cut.ckpt").header["position"]["step"] == 10  # the periodic one
    assert_same_weights(whole, train_tiny(tiny_corpus, tmp_path / "cut.lstm", resume=True))


def test_resume_needs_a_checkpoint_and_the_same_corpus(tiny_corpus, tmp_path):
    from lstmtext.errors import BadInput

    with pytest.raises(BadInput, match="no checkpoint to resume"):
        train_tiny(tiny_corpus, tmp_path / "m.lstm", resume=True)
    with pytest.raises(TrainingInterrupted):
        train_tiny(tiny_corpus, tmp_path / "m.lstm", observer=SignalAtStep(6))
    other = tmp_path / "other.txt"
    other.write_text(tiny_corpus.read_text() + "One more line.\n")
    with pytest.raises(CorpusError, match="not the one the checkpoint"):
        train_tiny(other, tmp_path / "m.lstm", resume=True)


def test_an_injected_nan_is_skipped_and_reported_and_training_finishes(tiny_corpus, tmp_path):
    recorder = Recorder()
    result = train_tiny(tiny_corpus, tmp_path / "m.lstm", observer=recorder, faults=Faults(nan_steps={7}))
    assert result.steps == 24 and math.isfinite(result.val_loss)
    assert [n for n in recorder.notes if "not finite" in n] == ["step 7: the loss or a gradient was not finite; "
                                                                  "the step was skipped"]
    assert all(torch.isfinite(w).all() for w in result.model.model.state_dict().values())


def test_repeated_nans_roll_back_to_the_last_good_point_with_a_lower_learning_rate(tiny_corpus, tmp_path):
    recorder = Recorder()  # evaluations at 8, 16, 24
    result = train_tiny(tiny_corpus, tmp_path / "m.lstm", observer=recorder, faults=Faults(nan_steps={10, 11, 12}))
    rollback = [n for n in recorder.notes if "rolled back" in n]
    assert rollback == ["the loss or gradients were not finite for 3 steps in a row (up to step 12): rolled back "
                        "to step 8 with the learning rate ×0.5"]
    steps = [s.step for s in recorder.steps]
    assert steps[:11] == list(range(1, 12)) and steps[11] == 9  # 12 diverged too: back to 8, then 9 again
    after = [s for s in recorder.steps if s.step == 9][1]
    before = [s for s in recorder.steps if s.step == 9][0]
    assert after.lr == pytest.approx(before.lr * 0.5)
    assert result.steps == 24 and math.isfinite(result.val_loss)


def test_training_that_keeps_diverging_fails_with_advice(tiny_corpus, tmp_path):
    from lstmtext.errors import TrainingFailed

    with pytest.raises(TrainingFailed, match="lower the learning rate") as failed:
        train_tiny(tiny_corpus, tmp_path / "m.lstm", faults=Faults(nan_steps=set(range(3, 30))))
    assert failed.value.spelled(FlagSpelling()).endswith("e.g. --lr 0.0006")
    assert not (tmp_path / "m.lstm").exists()


def test_init_from_fine_tunes_an_existing_model_with_its_tokenizer(lord_models, tmp_path):
    from lstmtext.core.store import ModelStore

    base = lord_models["char"]
    corpus = tmp_path / "more.txt"
    corpus.write_text("My lord, the queen is here.\nYes, my lord. The king brings news.\n" * 40)

    def first_eval(name, **options):
        recorder = Recorder()
        lstmtext.train(corpus, training=TrainConfig(seq_len=32, batch_size=4, max_steps=2, eval_every=2, seed=1),
                       layers=1, hidden_size=64, out=tmp_path / f"{name}.lstm", store=ModelStore(root=tmp_path / "h"),
                       observer=recorder, **options)
        return recorder

    tuned, fresh = first_eval("tuned", init_from=base.path), first_eval("fresh")
    assert "fine-tuning" in tuned.notes[1]
    assert tuned.evals[0].val_loss < fresh.evals[0].val_loss / 2  # it starts from what it knew
    assert lstmtext.load(tmp_path / "tuned.lstm").tokenizer.blobs() == base.tokenizer.blobs()
    assert lstmtext.load(tmp_path / "fresh.lstm").tokenizer.blobs() != base.tokenizer.blobs()


def test_chrono_init_starts_the_forget_gates_open_and_is_recorded(tiny_corpus, tmp_path):
    def forget_bias(chrono: bool):
        result = lstmtext.train(tiny_corpus, tokenizer=TokenizerConfig("char"), layers=1, hidden_size=16,
                                training=TrainConfig(seq_len=16, batch_size=2, max_steps=1, chrono_init=chrono),
                                out=tmp_path / f"{chrono}.lstm")
        assert result.model.header.training["chrono_init"] is chrono
        return result.model.model.state_dict()["rnn.bias_ih_l0"][16:32]  # the forget gate (i, f, g, o)

    opened, plain = forget_bias(True), forget_bias(False)
    assert opened.mean() > 1.0 and (opened > -0.01).all()  # log(u), u in [1, seq_len]: up to log 16
    assert plain.abs().mean() < 0.3
