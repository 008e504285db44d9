import math
import os

import pytest

import lstmtext
from lstmtext.core.store import ModelStore
from lstmtext.errors import BadInput, ModelNotFound


def test_complete_continues_the_prefix_and_stops_at_a_sentence_end(tiny_model):
    completions = tiny_model.complete("When there is fire", max_tokens=40)
    assert len(completions) == 3 and completions[0].prompt == "When there is fire"
    for completion in completions:
        assert completion.text and 0 < completion.probability <= 1
        ends_sentence = completion.text.endswith((".", "!", "?")) and completion.text.count(".") <= 1
        ends_line = completion.tokens[-1].text == "\n"  # the line break ends it and is not part of the text
        new_tokens = len(completion.tokens) - len(completion.retyped)  # char level: one token per character
        assert ends_sentence or (ends_line and "\n" not in completion.text) or new_tokens == 40


def test_generate_repeats_with_a_seed_and_varies_without(tiny_model):
    texts = ["".join(tiny_model.generate("The", length=60, seed=seed)) for seed in (1, 1, 2)]
    assert texts[0] == texts[1] != texts[2]
    assert 15 <= len(texts[0]) <= 60  # 60 tokens; an untrained model's byte pieces join, up to 4 a character


def test_evaluate_reports_consistent_figures(tiny_model, tiny_corpus):
    result = tiny_model.evaluate(tiny_corpus)
    assert result.chars == len(tiny_corpus.read_text(encoding="utf-8")) == result.tokens  # char level
    assert result.bits_per_char == pytest.approx(result.nats_per_char / math.log(2))
    assert result.perplexity == pytest.approx(math.exp(result.nats_per_char))  # one char per token
    assert 0.5 < result.bits_per_char < 8
    assert set(result.to_dict()) == {"bits_per_char", "nats_per_char", "perplexity", "tokens", "chars", "seconds",
                                     "tokens_per_second"}
    assert result.seconds > 0 and result.tokens_per_second == pytest.approx(result.tokens / result.seconds)


@pytest.mark.parametrize("call", [lambda m: m.generate(length=0), lambda m: m.next_tokens("x", n=0)])
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
    from lstmtext.options import TrainConfig

    result = lstmtext.train(tiny_corpus, training=TrainConfig(seq_len=16, batch_size=2, max_steps=2),
                            layers=1, hidden_size=8)
    assert result.name == "tiny" and user_store.default_name() == "tiny"
    assert lstmtext.load().path == user_store.path_for("tiny")
    assert os.environ["LSTMTEXT_HOME"] in str(result.path)


def test_store_rejects_unsafe_names():
    with pytest.raises(BadInput):
        ModelStore().path_for("../escape")


@pytest.mark.parametrize("seed", [None, 1, 2, 3])
def test_a_whole_prompt_s_last_word_is_not_continued(tiny_model, seed):
    from lstmtext.options import Sampling

    sampling = None if seed is None else Sampling(temperature=1.5, seed=seed)
    for prompt in ("The ca", "When there is fi", "The king"):
        whole = tiny_model.continuation(prompt, max_tokens=5, sampling=sampling, finish_word=False)
        assert not whole.text[:1].isalnum(), (prompt, whole.text)
    assert tiny_model.continuation("The ca", max_tokens=5, sampling=None).text[:1].isalpha()  # a word finished
