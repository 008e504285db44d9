"""The demo corpus generator (data/make_corpus.py): deterministic, and the long-gap prompts the demo asks about
combine an animal with a filler the corpus never puts after it."""

import importlib.util
import re
from pathlib import Path

import pytest

DATA = Path(__file__).parent.parent / "data"


@pytest.fixture(scope="module")
def make_corpus():
    spec = importlib.util.spec_from_file_location("make_corpus", DATA / "make_corpus.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_generator_is_deterministic_and_wrote_the_corpus_in_the_repository(make_corpus):
    text = make_corpus.corpus_text()
    assert text == make_corpus.corpus_text()
    assert text == (DATA / "corpus.txt").read_text(encoding="utf-8")


def test_held_out_combinations_never_occur_in_the_corpus(make_corpus):
    text = make_corpus.corpus_text()
    held = [(animal, filler) for animal in make_corpus.HOMES for filler in make_corpus.FILLERS
            if make_corpus.held_out(animal, filler)]
    assert len(held) == len(make_corpus.HOMES) * len(make_corpus.FILLERS) // make_corpus.HELD_OUT_EVERY
    for animal, filler in held:
        assert f"The {animal} {filler}" not in text
    for animal in make_corpus.HOMES:  # every animal is still seen with most fillers
        assert sum(f"The {animal} {filler}" in text for filler in make_corpus.seen_fillers(animal)) >= 12


def test_the_demo_prompts_are_held_out_and_far_from_their_answer(make_corpus):
    text = make_corpus.corpus_text()
    for prompt, animal, home in make_corpus.held_out_prompts():
        assert prompt.startswith(f"The {animal} ") and home == make_corpus.HOMES[animal]
        assert prompt.split(",")[0] not in text
        assert 30 <= len(prompt) - len(f"The {animal}") <= 150


def test_animals_and_countries_are_far_apart_in_many_sentences(make_corpus):
    text = make_corpus.corpus_text()
    animals = "|".join(make_corpus.HOMES)
    gaps = [len(gap) for gap in re.findall(rf"The (?:{animals})( that[^.]*?, was born in)", text)]
    assert len(gaps) >= 300 and min(gaps) >= 30 and max(gaps) <= 150
