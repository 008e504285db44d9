import math
import os

import pytest

import lstmtext
from lstmtext.errors import BadInput, ModelNotFound
from lstmtext.store import ModelStore


def test_complete_continues_the_prefix_and_stops_at_a_sentence_end(tiny_model):
    completion = tiny_model.complete("When there is fire", max_tokens=40)
    assert completion.prompt == "When there is fire"
    assert completion.text and 0 < completion.probability <= 1
    ends_sentence = completion.text.endswith((".", "!", "?")) and completion.text.count(".") <= 1
    assert ends_sentence or len(completion.token_log_probs) == 40
    assert math.exp(sum(completion.token_log_probs)) == pytest.approx(completion.probability)


def test_complete_is_deterministic_and_respects_max_tokens(tiny_model):
    first = tiny_model.complete("The panda", max_tokens=5, until="none")
    assert first == tiny_model.complete("The panda", max_tokens=5, until="none")
    assert len(first.token_log_probs) == 5 and len(first.text) == 5  # char level: one char per token


def test_generate_repeats_with_a_seed_and_varies_without(tiny_model):
    texts = ["".join(tiny_model.generate("The", length=60, seed=seed)) for seed in (1, 1, 2)]
    assert texts[0] == texts[1] != texts[2]
    assert len(texts[0]) == 60


def test_evaluate_reports_consistent_figures(tiny_model, tiny_corpus):
    result = tiny_model.evaluate(tiny_corpus)
    assert result.chars == len(tiny_corpus.read_text(encoding="utf-8")) == result.tokens  # char level
    assert result.bits_per_char == pytest.approx(result.nats_per_char / math.log(2))
    assert result.perplexity == pytest.approx(math.exp(result.nats_per_char))  # one char per token
    assert 0.5 < result.bits_per_char < 8
    assert set(result.to_dict()) == {"bits_per_char", "nats_per_char", "perplexity", "tokens", "chars"}


@pytest.mark.parametrize("call", [lambda m: m.complete("x", until="paragraph"),
                                  lambda m: m.complete("x", max_tokens=0),
                                  lambda m: m.generate(length=0)])
def test_bad_arguments_are_refused(tiny_model, call):
    with pytest.raises(BadInput):
        call(tiny_model)


def test_store_resolves_names_paths_the_environment_and_the_default(tiny_model_path, user_store, monkeypatch):
    with pytest.raises(ModelNotFound, match="no model yet"):
        user_store.resolve()
    target = user_store.path_for("shakes")
    target.parent.mkdir(parents=True)
    target.write_bytes(tiny_model_path.read_bytes())
    user_store.set_default("shakes")
    assert user_store.resolve() == target == user_store.resolve("shakes")
    assert user_store.resolve(str(tiny_model_path)) == tiny_model_path
    monkeypatch.setenv("LSTMTEXT_MODEL", str(tiny_model_path))
    assert user_store.resolve() == tiny_model_path
    with pytest.raises(ModelNotFound, match="stored models: shakes"):
        user_store.resolve("missing")
    assert [m.name for m in user_store.list()] == ["shakes"] and user_store.list()[0].is_default


def test_training_into_the_store_makes_the_default(tiny_corpus, user_store):
    from lstmtext.config import TrainConfig

    result = lstmtext.train(tiny_corpus, training=TrainConfig(seq_len=16, batch_size=2, max_steps=2),
                            layers=1, hidden_size=8)
    assert result.name == "tiny" and user_store.default_name() == "tiny"
    assert lstmtext.load().path == user_store.path_for("tiny")
    assert os.environ["LSTMTEXT_HOME"] in str(result.path)


def test_store_rejects_unsafe_names():
    with pytest.raises(BadInput):
        ModelStore().path_for("../escape")
