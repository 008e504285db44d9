"""Beam search, sampling and token healing against a toy model whose probabilities are written out by hand,
so every expected completion and probability can be worked out on paper."""

import math

import pytest
import torch

from lstmtext.decoding.batch import run_steps
from lstmtext.decoding.healing import TokenTable, split_prefix
from lstmtext.decoding.search import beam_search, sample_steps
from lstmtext.decoding.stopping import NEXT_TOKEN, StopRule
from lstmtext.options import Sampling

VOCAB = [" the", " a", ".", " cat.", " dog.", " th", "e cat.", "x.", " c", "at.", " car.", "a", " the cat."]


class ToyTokenizer:
    vocab_size = len(VOCAB)

    @staticmethod
    def token_bytes(token_id: int) -> bytes:
        return VOCAB[token_id].encode()

    @staticmethod
    def is_byte(token_id: int) -> bool:
        return False


class TableModel:
    """A stepper whose next-token probabilities are looked up by the text so far (uniform if not listed).
    Its state is the id of that text, so beams can be reordered like real recurrent states."""

    def __init__(self, table: dict[str, dict[str, float]]) -> None:
        self.table, self.texts = table, [""]

    def _logits(self, text: str) -> torch.Tensor:
        probabilities = self.table.get(text, {token: 1.0 for token in VOCAB})
        return torch.tensor([math.log(probabilities[token]) if token in probabilities else float("-inf")
                             for token in VOCAB])

    def start(self):
        return torch.zeros(1, 1, 1), self._logits("")

    def step(self, tokens: torch.Tensor, state: torch.Tensor):
        rows, ids = [], []
        for stream, token in enumerate(tokens.tolist()):
            text = self.texts[int(state[0, stream, 0])] + VOCAB[token]
            self.texts.append(text)
            ids.append(len(self.texts) - 1)
            rows.append(self._logits(text))
        return torch.stack(rows), torch.tensor(ids, dtype=torch.float).view(1, -1, 1)


TREE = {"": {" the": 0.5, " a": 0.3, ".": 0.2}, " the": {" cat.": 0.7, " dog.": 0.3},
        " a": {" cat.": 0.9, " dog.": 0.1}}
SENTENCE = StopRule("sentence", 10)


def search(table, tail=b"", n=4, width=4, rule=SENTENCE, **options):
    model = TableModel(table)
    return beam_search(model, model.start(), TokenTable(ToyTokenizer()), tail, n=n, width=width, rule=rule,
                       **options)


def as_pairs(found):
    """(text, probability) pairs; probabilities to 5 places, as the toy's float32 logits allow."""
    return [(f.text, round(f.probability, 5)) for f in found]


def test_beam_search_returns_the_most_likely_completions_in_order():
    assert as_pairs(search(TREE)) == [(" the cat.", 0.35), (" a cat.", 0.27), (".", 0.2), (" the dog.", 0.15)]


def test_a_narrow_beam_still_returns_distinct_completions_that_sum_to_at_most_one():
    found = search(TREE, n=2, width=2)
    assert len({f.text for f in found}) == 2 and sum(f.probability for f in found) <= 1
    assert found[0].probability >= found[1].probability


def test_token_paths_that_spell_the_same_text_add_up():
    table = {"": {" the cat.": 0.3, " th": 0.3, "x.": 0.4}, " th": {"e cat.": 1.0}}
    assert as_pairs(search(table, n=2)) == [(" the cat.", 0.6), ("x.", 0.4)]


def test_length_normalization_prefers_the_longer_completion_with_better_tokens():
    table = {"": {".": 0.45, " th": 0.55}, " th": {"e cat.": 0.8, "x.": 0.2}}  # 0.45 in 1 token, 0.44 in 2
    assert [f.text for f in search(table, n=2)][0] == "."
    assert [f.text for f in search(table, n=2, normalize=True)][0] == " the cat."


def test_healing_retypes_the_half_word_and_renormalizes():
    table = {"": {" cat.": 0.1, " car.": 0.05, " dog.": 0.8, " c": 0.05}, " c": {"at.": 1.0}}
    # Allowed after typing " ca": " cat." 0.1, " car." 0.05, " c" 0.05 -> renormalized 0.5, 0.25, 0.25;
    # " c" then "at." is " cat." again.
    found = search(table, tail=b" ca", n=3)
    assert as_pairs(found) == [("t.", 0.75), ("r.", 0.25)]
    assert found[0].token_ids[0] == VOCAB.index(" cat.")


def test_a_path_that_retypes_the_word_in_odd_pieces_counts_only_what_the_model_gives_it():
    # " c" then "at." re-types " ca" too, but the model gives "at." after " c" only 0.02: that path adds
    # 0.05 × 0.02 (renormalizing the step would have added all of 0.05).
    # The typed text's probability: 0.1 + 0.05 + 0.001.
    table = {"": {" cat.": 0.1, " car.": 0.05, " dog.": 0.75, " c": 0.05}, " c": {"at.": 0.02, "x.": 0.98}}
    found = search(table, tail=b" ca", n=3)
    assert as_pairs(found) == [("t.", round(0.101 / 0.151, 5)), ("r.", round(0.05 / 0.151, 5))]


def test_sampling_retypes_the_half_word_with_a_token_that_covers_it_where_one_exists():
    table = {"": {" cat.": 0.1, " car.": 0.05, " dog.": 0.75, " c": 0.1}, " c": {"at.": 0.02, "x.": 0.98}}
    model = TableModel(table)
    found = run_steps(model, sample_steps(model.start(), TokenTable(ToyTokenizer()), b" ca", n=20, rule=SENTENCE,
                                          sampling=Sampling(temperature=1.0),
                                          generator=torch.Generator().manual_seed(0)))
    assert {f.text for f in found} == {"t.", "r."}
    assert all(f.token_ids[0] in (VOCAB.index(" cat."), VOCAB.index(" car.")) for f in found)  # never " c"
    # A char-level tail has no token that covers it: each step types the next piece.
    assert TokenTable(ToyTokenizer()).drawable(b" cax")[VOCAB.index(" c")]


def test_the_next_token_rule_stops_once_something_new_is_added():
    table = {"": {" cat.": 0.1, " car.": 0.05, " dog.": 0.8, " c": 0.06}, " c": {"a": 1.0}}
    found = search(table, tail=b" c", n=3, rule=StopRule(NEXT_TOKEN, 1))  # allowed: 0.1 + 0.05 + 0.06
    assert as_pairs(found) == [("at.", round(0.1 / 0.21, 5)), ("a", round(0.06 / 0.21, 5)),
                               ("ar.", round(0.05 / 0.21, 5))]


def test_max_tokens_ends_a_completion_that_never_finishes():
    found = search({"": {"a": 1.0}, "a": {"a": 1.0}, "aa": {"a": 1.0}}, rule=StopRule("sentence", 3), n=1)
    assert as_pairs(found) == [("aaa", 1.0)]


def test_sampled_completions_report_the_models_own_probabilities():
    model = TableModel(TREE)

    def draw(seed):
        return run_steps(model, sample_steps(model.start(), TokenTable(ToyTokenizer()), b"", n=6, rule=SENTENCE,
                                             sampling=Sampling(temperature=0.5),
                                             generator=torch.Generator().manual_seed(seed)))

    found = draw(1)
    expected = {" the cat.": 0.35, " a cat.": 0.27, ".": 0.2, " the dog.": 0.15, " a dog.": 0.03}
    assert found and all(f.probability == pytest.approx(expected[f.text]) for f in found)
    assert len({f.text for f in found}) == len(found)
    assert [f.probability for f in found] == sorted((f.probability for f in found), reverse=True)
    assert as_pairs(draw(1)) == as_pairs(found)


@pytest.fixture(scope="module")
def tokenizers(corpus_text):
    from lstmtext.core.tokenizer_training import train_tokenizer
    from lstmtext.options import TokenizerConfig

    lines = corpus_text.splitlines(keepends=True)
    return {level: train_tokenizer(lines, TokenizerConfig(level, None if level == "char" else 600))
            for level in ("char", "word", "bpe", "unigram")}


@pytest.mark.parametrize("level", ["char", "word", "bpe", "unigram"])
@pytest.mark.parametrize("prefix, tail", [("When there is fi", " fi"), ("When there is fire,", ","),
                                          ("my ", " "), ("fi", "fi"), ("no end.\n", "\n"), ("", "")])
def test_split_prefix_backs_off_the_last_unit_at_every_level(tokenizers, level, prefix, tail):
    split = split_prefix(prefix, tokenizers[level])
    head = b"".join(tokenizers[level].token_bytes(i) for i in split.head_ids)
    assert head + split.tail == prefix.encode()
    assert split.tail.endswith(tail.encode())
    assert len(split.tail) <= len(tail.encode()) + len(b"When there is") * (level != "char")


def test_a_long_prompt_is_read_from_a_line_start_that_stays_put_while_typing():
    from lstmtext.decoding.reading import readable_end
    from lstmtext.options import MAX_PROMPT_CHARS

    text = "".join(f"Line {number} of a long letter, typed at its end.\n" for number in range(3000))
    starts = set()
    for length in range(MAX_PROMPT_CHARS + 1, MAX_PROMPT_CHARS + 30_000, 97):
        prompt = text[:length]
        read = readable_end(prompt)
        assert prompt.endswith(read) and prompt[-len(read) - 1] == "\n"
        assert MAX_PROMPT_CHARS // 2 - 100 <= len(read) <= MAX_PROMPT_CHARS
        starts.add(len(prompt) - len(read))
    assert len(starts) <= 4  # moved 3 times in 30,000 characters typed, so what was read stays cached


@pytest.mark.parametrize("level", ["char", "word", "bpe", "unigram"])
def test_split_prefix_of_a_long_prompt_in_any_script(tokenizers, level):
    prefix = "Καλημέρα κόσμε, 你好. " * 300 + "When there is fi"
    split = split_prefix(prefix, tokenizers[level])
    head = b"".join(tokenizers[level].token_bytes(i) for i in split.head_ids)
    assert head + split.tail == prefix.encode() and split.tail.endswith(b" fi")
