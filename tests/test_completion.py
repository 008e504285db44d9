"""Completion behaviour on real trained models: half-typed words at every tokenizer level, ranked completions,
ghost-text suggestions and next-token choices."""

import re

import pytest

from lstmtext.errors import BadInput

from .conftest import LEVELS


@pytest.mark.parametrize("level", LEVELS)
def test_a_half_typed_word_is_finished_not_restarted(lord_models, level):
    completions = lord_models[level].complete("my lo", n=3)
    assert completions[0].text.startswith("rd")
    for completion in completions:
        assert re.match(r"[a-z]", completion.text), completion.text  # letters that finish "lo…", never a space
    assert lord_models[level].suggest("my lo").startswith("rd")


@pytest.mark.parametrize("level", LEVELS)
def test_a_prefix_ending_with_a_space_starts_a_new_word(lord_models, level):
    completions = lord_models[level].complete("Yes, my ", n=3)
    assert completions[0].text.startswith("lord")
    assert all(not c.text[:1].isspace() for c in completions)


@pytest.mark.parametrize("level", LEVELS)
def test_ranked_completions_are_distinct_and_honest(lord_models, level):
    completions = lord_models[level].complete("The king", n=5, until="sentence", max_tokens=30)
    probabilities = [c.probability for c in completions]
    assert len(completions) == 5 and len({c.text for c in completions}) == 5
    assert probabilities == sorted(probabilities, reverse=True) and 0 < sum(probabilities) <= 1
    for completion in completions:
        assert completion.prompt == "The king"
        ends = completion.text.rstrip().endswith((".", "!", "?")) or "\n" not in completion.text
        assert ends and completion.tokens and all(t.log_prob <= 0 for t in completion.tokens)


def test_ghost_text_never_runs_past_the_end_of_the_line(lord_models):
    model = lord_models["char"]
    assert model.complete("The king is here, my lord.", n=1)[0].text.startswith("\n")
    assert model.suggest("The king is here, my lord.") == ""
    assert model.suggest("The king") and model.suggest("The king") == model.suggest("The king").rstrip()


def test_next_tokens_continue_the_half_typed_word(lord_models):
    char_choices = lord_models["char"].next_tokens("my lo", n=4)
    assert char_choices[0].text == "r" and len({c.text for c in char_choices}) == 4
    assert sum(c.probability for c in char_choices) <= 1
    assert lord_models["word"].next_tokens("my lo", n=2)[0].text == "rd"  # the rest of the token " lord"


def test_sampled_text_also_finishes_the_half_typed_word(lord_models):
    text = "".join(lord_models["bpe"].generate("Yes, my lo", length=3, temperature=0.1, seed=1))
    assert text.startswith("rd")


def test_completions_are_deterministic_and_respect_max_tokens(tiny_model):
    first = tiny_model.complete("The panda", n=2, max_tokens=5, until="none")
    assert first == tiny_model.complete("The panda", n=2, max_tokens=5, until="none")
    assert all(len(c.text) == 5 and len(c.tokens) == 5 + len(" panda") for c in first)  # char level
    assert first[0].retyped == " panda"


def test_sampled_completions_repeat_with_a_seed(tiny_model):
    def draw(seed):
        return [c.text for c in tiny_model.complete("The", n=3, sample=True, seed=seed, max_tokens=20)]

    assert draw(4) == draw(4) != draw(5)


@pytest.mark.parametrize("options", [dict(until="paragraph"), dict(max_tokens=0), dict(n=0),
                                     dict(n=5, beam_width=3), dict(sample=True, temperature=0)])
def test_bad_completion_options_are_refused(tiny_model, options):
    with pytest.raises(BadInput):
        tiny_model.complete("x", **options)
