"""Dynamic evaluation: a model that learns from the text it reads, never from text it has not read yet."""

from __future__ import annotations

import copy
import dataclasses
import json
import threading
import time

import numpy as np
import pytest
import torch

import lstmtext
from lstmtext.options import AdaptOptions
from lstmtext.training.adaptation import Adapter, window_groups

from .conftest import assert_one_line_error

REPEATED = "The wizard Zorbulax came down the hill at dawn.\n" * 40
QUICK = AdaptOptions(lr=1e-2, window=16, batch=2)  # many small steps: a tiny model learns a short text


def weights(model) -> dict:
    return {name: tensor.clone() for name, tensor in model.model.state_dict().items()}


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[name], b[name]) for name in a)


@pytest.mark.parametrize("count, window, batch", [(1, 32, 8), (100, 7, 3), (256, 32, 8), (257, 32, 8), (5, 1, 4)])
def test_window_groups_cover_every_position_once_in_order(count, window, batch):
    covered = []
    for group in window_groups(count, window, batch):
        assert len({length for _, length in group}) == 1 and len(group) <= batch
        covered += [position for start, length in group for position in range(start, start + length)]
    assert covered == list(range(count))


@pytest.mark.parametrize("options", [AdaptOptions(window=8, batch=4), AdaptOptions(window=16, batch=1, decay=0.1)])
def test_no_peeking_a_token_is_scored_the_same_whatever_follows_it(tiny_model, options):
    ids = np.array(tiny_model.tokenizer.encode(REPEATED[:400]))
    changed = ids.copy()
    cut = 150
    changed[cut + 1:] = np.random.default_rng(0).permutation(changed[cut + 1:])
    assert not np.array_equal(ids[cut + 1:], changed[cut + 1:])
    first = Adapter(copy.deepcopy(tiny_model.model), options).read(ids).nats
    second = Adapter(copy.deepcopy(tiny_model.model), options).read(changed).nats
    # nats[t] is the score of ids[t + 1]: every token up to the cut is scored the same, bit for bit
    assert np.array_equal(first[:cut], second[:cut])
    assert not np.array_equal(first[cut:], second[cut:])


def test_adapting_learns_from_what_it_read_and_leaves_the_model_alone(tiny_model, tmp_path):
    text = tmp_path / "repeated.txt"
    text.write_text(REPEATED, encoding="utf-8")
    before = weights(tiny_model)
    static = tiny_model.evaluate(text)
    adapted = tiny_model.evaluate(text, adapt=True, adaptation=QUICK)
    assert adapted.bits_per_char < 0.8 * static.bits_per_char
    assert adapted.tokens == static.tokens and adapted.adaptation == QUICK
    assert static.adaptation is None and "adaptation" not in static.to_dict()
    assert same_weights(before, weights(tiny_model))


def test_forget_goes_back_to_the_trained_weights(tiny_model):
    adapter = Adapter(copy.deepcopy(tiny_model.model), AdaptOptions(lr=1e-2, window=8))
    adapter.read(np.array(tiny_model.tokenizer.encode(REPEATED[:200])))
    assert adapter.steps > 0 and not same_weights(weights(tiny_model), adapter.model.state_dict())
    adapter.forget()
    assert adapter.steps == 0 and same_weights(weights(tiny_model), adapter.model.state_dict())


def test_a_trained_model_stores_its_adaptation_and_an_older_one_gets_its_levels(tiny_model):
    from lstmtext.options import default_adaptation

    assert tiny_model.header.adaptation == default_adaptation("char")
    assert tiny_model.adaptation == default_adaptation("char")
    older = tiny_model.with_network(tiny_model.model)
    older.header = dataclasses.replace(tiny_model.header, adaptation=None)
    assert older.adaptation == default_adaptation("char")


@pytest.mark.parametrize("field, value, problem", [("lr", 0.0, "must be positive"), ("lr", float("nan"), "finite"),
                                                   ("decay", 1.0, "outside [0, 1)"), ("window", 0, "at least 1"),
                                                   ("batch", 10 ** 6, "more than")])
def test_bad_adaptation_options_are_refused_by_name(field, value, problem):
    with pytest.raises(lstmtext.errors.OptionError) as caught:
        AdaptOptions(**{field: value})
    assert problem in str(caught.value) and str(caught.value).startswith(field)


def test_a_session_learns_in_the_background_and_suggestions_never_wait(tiny_model, monkeypatch):
    session = tiny_model.session(QUICK)
    release = threading.Event()
    learn = session._learner.read
    monkeypatch.setattr(session._learner, "read", lambda ids, stop: release.wait(10) and learn(ids, stop=stop))
    session.read(REPEATED)
    started = time.perf_counter()
    assert session.suggest("The wiz") == tiny_model.suggest("The wiz")  # the trained model answers meanwhile
    assert time.perf_counter() - started < 5
    release.set()
    session.wait()
    assert session.learned_texts == 1 and session.model is not tiny_model
    assert session.complete("The wiz", n=1)[0].text.startswith("ard Zorbulax")
    session.forget()
    assert session.model is tiny_model and session.learned_texts == 0
    session.read("Zorbulax", wait=True)  # after forgetting, learning starts again from the trained weights
    assert session.learned_texts == 1
    session.close()


def test_closing_a_session_abandons_what_it_learns_and_it_answers_on(tiny_model):
    with tiny_model.session(QUICK) as session:
        session.read(REPEATED * 20)
    assert not session._worker.is_alive()
    assert session.learned_texts == 0  # abandoned halfway: no snapshot of a text half learned
    session.read("Zorbulax", wait=True)  # closed: read without learning, and nothing to wait for
    session.forget()
    session.close()
    assert session.suggest("The wiz") == tiny_model.suggest("The wiz")


def test_a_session_left_open_does_not_abort_the_interpreter_at_exit(tiny_model_path):
    """`s = lstmtext.load(M).session(); s.read(text)` and then leaving Python aborted it (status 134) while the
    worker was inside torch; now the worker is stopped on the way out."""
    import subprocess
    import sys

    script = ("import lstmtext, sys; s = lstmtext.load(sys.argv[1]).session(); "
              f"s.read({REPEATED * 40!r}); print('read')")
    for _ in range(3):
        done = subprocess.run([sys.executable, "-c", script, str(tiny_model_path)], capture_output=True, text=True,
                              timeout=120)
        assert (done.returncode, done.stdout, done.stderr) == (0, "read\n", "")


def test_a_session_with_adaptation_off_reads_without_learning(tiny_model):
    session = tiny_model.session(adapting=False)
    session.read(REPEATED, wait=True)
    assert session.model is tiny_model and session.learned_texts == 0


def test_adapted_model_keeps_what_it_learned_and_says_on_what(tiny_model, tmp_path):
    adapted = tiny_model.adapted({"notes.txt": REPEATED}, QUICK)
    assert adapted.complete("The wiz", n=1)[0].text.startswith("ard Zorbulax")
    [record] = adapted.header.adapted
    assert record.texts == ({"name": "notes.txt", "chars": len(REPEATED), "tokens": record.texts[0]["tokens"]},)
    assert record.source == tiny_model.path.name and record.steps > 0
    adapted.save(tmp_path / "again.lstm")
    assert lstmtext.load(tmp_path / "again.lstm").header.adapted == adapted.header.adapted


def test_cli_eval_adapt_reports_static_and_adapted_side_by_side(run, trained, tmp_path):
    text = tmp_path / "repeated.txt"
    text.write_text(REPEATED, encoding="utf-8")
    result = run("eval", text, "--adapt", "--adapt-lr", "0.003", "--json")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert set(figures) == {"static", "adapted"}
    assert set(figures["static"]) | {"adaptation"} == set(figures["adapted"])
    assert figures["adapted"]["adaptation"]["lr"] == 0.003
    assert figures["adapted"]["bits_per_char"] < figures["static"]["bits_per_char"]
    table = run("eval", text, "--adapt")
    assert "static" in table.stdout and "adapted" in table.stdout and "fewer bits per char" in table.stdout
    plain = json.loads(run("eval", text, "--json").stdout)
    assert set(plain) == set(figures["static"])


@pytest.mark.parametrize("arguments, words", [
    (["--adapt-lr", "0.01"], ["--adapt-lr applies only with --adapt"]),
    (["--adapt", "--adapt-lr", "-1"], ["--adapt-lr -1.0 must be positive", "--adapt-lr 0.001"]),
    (["--adapt", "--adapt-lr", "nan"], ["--adapt-lr nan is not a finite number"]),
])
def test_cli_eval_refuses_bad_adaptation_flags(run, trained, tmp_path, arguments, words):
    text = tmp_path / "t.txt"
    text.write_text(REPEATED, encoding="utf-8")
    assert_one_line_error(run("eval", text, *arguments), 2, *words)


def test_cli_adapt_writes_a_new_model_and_leaves_the_base_alone(run, trained, tmp_path, user_store):
    notes = tmp_path / "notes.txt"
    notes.write_text(REPEATED, encoding="utf-8")
    base_bytes = trained.read_bytes()
    result = run("adapt", "tiny", notes, "--name", "tiny-notes", "--adapt-lr", "0.003")
    assert result.exit_code == 0, result.output
    assert "saved model 'tiny-notes'" in result.stdout
    assert trained.read_bytes() == base_bytes
    assert user_store.default_name() == "tiny-notes"
    assert "adapted" in run("info", "--model", "tiny-notes").stdout
    [record] = json.loads(run("info", "--model", "tiny-notes", "--json").stdout)["adapted"]
    assert record["from"] == "tiny.lstm" and record["texts"][0]["name"] == str(notes)
    assert record["texts"][0]["chars"] == len(REPEATED) and record["adaptation"]["lr"] == 0.003
    assert not list(user_store.models_dir.glob("*.tmp*"))


@pytest.mark.parametrize("arguments, words", [
    (["tiny", "NOTES", "--name", "tiny"], ["is the model being adapted"]),
    (["tiny", "missing.txt"], ["missing.txt"]),
    (["nowhere", "NOTES"], ["nowhere"]),
    (["tiny", "NOTES", "--name", "x", "--out", "y.lstm"], ["--name and --out"]),
    (["tiny", "EMPTY"], ["no text to learn from"]),
])
def test_cli_adapt_refuses_what_would_lose_or_miss_something(run, trained, tmp_path, arguments, words):
    notes, empty = tmp_path / "notes.txt", tmp_path / "empty.txt"
    notes.write_text(REPEATED, encoding="utf-8")
    empty.write_text("", encoding="utf-8")
    base_bytes = trained.read_bytes()
    files = {"NOTES": str(notes), "EMPTY": str(empty)}
    result = run("adapt", *[files.get(argument, argument) for argument in arguments])
    assert_one_line_error(result, 2, *words)
    assert trained.read_bytes() == base_bytes


def test_cli_complete_with_context_learns_from_it_first(run, trained, tmp_path):
    context = tmp_path / "draft.txt"
    context.write_text(REPEATED, encoding="utf-8")
    plain = run("complete", "The wiz", "-n", "1", "--until", "word").stdout
    learned = run("complete", "The wiz", "-n", "1", "--until", "word", "--context", context, "--json")
    assert learned.exit_code == 0, learned.output
    shown = json.loads(learned.stdout)
    assert shown["completions"][0]["text"] == "ard" and "adapt" in shown["timing_ms"]
    assert not plain.startswith("The wizard\t")
    piped = run("complete", "The wiz", "-n", "1", "--until", "word", "--context", "-", input=REPEATED)
    assert piped.exit_code == 0 and piped.stdout.startswith("The wizard\t")
    assert_one_line_error(run("complete", "-", "--context", "-", input="x"), 2, "both read stdin")


def test_the_cache_scores_a_text_as_it_would_predict_each_token_from_what_came_before():
    from lstmtext.core.cache import NeuralCache

    generator = torch.Generator().manual_seed(0)
    outputs = torch.randn(40, 8, generator=generator)
    targets = torch.randint(0, 5, (40,), generator=generator)
    log_probs = torch.log_softmax(torch.randn(40, 5, generator=generator), dim=-1)
    along = NeuralCache(size=12, weight=0.5, sharpness=5.0, hidden_size=8)
    along.add(outputs[:10], targets[:10])
    scored = along.mix_scores(log_probs[10:].gather(1, targets[10:, None])[:, 0], outputs[10:], targets[10:])
    one_by_one = NeuralCache(size=12, weight=0.5, sharpness=5.0, hidden_size=8)
    one_by_one.add(outputs[:10], targets[:10])
    for position in range(10, 40):
        mixed = one_by_one.mix(log_probs[position:position + 1], outputs[position:position + 1])
        assert torch.allclose(mixed.exp().sum(), torch.tensor(1.0), atol=1e-5)  # still a distribution
        assert torch.allclose(mixed[0, targets[position]], scored[position - 10], atol=1e-5)
        one_by_one.add(outputs[position:position + 1], targets[position:position + 1])
    assert len(one_by_one) == 12  # the oldest went first

