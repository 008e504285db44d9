import numpy as np
import pytest

from lstmtext.core.tokenizer import tokenizer_from_blobs
from lstmtext.core.tokenizer_stats import tokenizer_stats
from lstmtext.core.tokenizer_training import train_tokenizer
from lstmtext.errors import CorpusError
from lstmtext.options import TokenizerConfig

UNSEEN = [
    "emoji 🙂🔥 and CJK 漢字かな",
    "\ttabs\tand\t\ttabs\n",
    "\n\n\nblank lines\n\n",
    "   leading and trailing spaces   ",
    "runs   of    spaces",
    "windows line ends\r\nsecond line\r\n",
    "a literal \u2581 mark and \u2581\u2581 two",
    "",
]


@pytest.fixture(scope="module")
def lines(corpus_text):
    return corpus_text.splitlines(keepends=True)


@pytest.fixture(scope="module", params=["char", "bpe", "unigram", "word"])
def tokenizer(request, lines):
    vocab = {"char": None, "bpe": 600, "unigram": 600, "word": 400}[request.param]
    return train_tokenizer(lines, TokenizerConfig(request.param, vocab))


def test_round_trips_the_corpus_exactly(tokenizer, corpus_text):
    assert tokenizer.decode(tokenizer.encode(corpus_text)) == corpus_text


@pytest.mark.parametrize("text", UNSEEN)
def test_round_trips_unseen_characters_and_whitespace(tokenizer, text):
    assert tokenizer.decode(tokenizer.encode(text)) == text


@pytest.mark.parametrize("text", UNSEEN + ["When there is fire, there is smoke."])
def test_token_bytes_spell_out_the_text_exactly(tokenizer, text):
    """Token healing compares typed text with tokens byte by byte, so each token's bytes must add up."""
    assert b"".join(tokenizer.token_bytes(i) for i in tokenizer.encode(text)) == text.encode()


def test_ids_stay_inside_the_vocabulary(tokenizer):
    ids = tokenizer.encode("".join(UNSEEN))
    assert ids and 0 <= min(ids) and max(ids) < tokenizer.vocab_size


def test_survives_saving_as_blobs(tokenizer, corpus_text):
    copy = tokenizer_from_blobs(tokenizer.level, tokenizer.blobs())
    assert copy.vocab_size == tokenizer.vocab_size
    assert copy.encode(corpus_text[:2000]) == tokenizer.encode(corpus_text[:2000])


def test_subword_levels_compress_more_than_characters(lines, corpus_text):
    sizes = {level: len(train_tokenizer(lines, TokenizerConfig(level, 600 if level != "char" else None))
                         .encode(corpus_text)) for level in ("char", "bpe", "unigram")}
    assert sizes["char"] == len(corpus_text)
    assert sizes["bpe"] < sizes["char"] / 2 and sizes["unigram"] < sizes["char"] / 2


def test_vocab_size_is_an_upper_bound(lines):
    assert train_tokenizer(lines, TokenizerConfig("bpe", 400)).vocab_size <= 400


def test_word_level_keeps_known_words_whole_and_spells_out_unknown_ones(lines):
    tokenizer = train_tokenizer(lines, TokenizerConfig("word", 400))
    known = tokenizer.encode("When there is fire, there is smoke.")
    assert [tokenizer.decode([i]) for i in known] == ["When", " there", " is", " fire", ",", " there", " is",
                                                      " smoke", "."]
    assert not any(tokenizer.is_fallback(i) for i in known)
    unknown = tokenizer.encode(" Zyzzyva")
    assert len(unknown) == len(" Zyzzyva") and all(tokenizer.is_fallback(i) for i in unknown)
    assert tokenizer.decode(unknown) == " Zyzzyva"


def test_word_level_encodes_a_text_as_its_words_whatever_its_line_breaks(lines):
    """The word tokenizer encodes line by line and remembers lines: the ids must be those of the words, with
    every kind of line break, and the same the second time."""
    tokenizer = train_tokenizer(lines, TokenizerConfig("word", 400))
    breaks = ["\n", "\r\n", "\r", "\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\u2029"]
    text = "".join(f"When there is fire{line_break} there is smoke" for line_break in breaks) + " Zyzzyva\n"
    first, again = tokenizer.encode(text), tokenizer.encode(text)
    assert first == again and tokenizer.decode(first) == text
    assert [tokenizer.decode([i]) for i in first[:6]] == ["When", " there", " is", " fire", "\n", " there"]
    assert tokenizer.encode("When there is fire" + "\n" + " there") == first[:6]


def test_stats_count_tokens_coverage_and_frequent_pieces(lines, corpus_text):
    tokenizer = train_tokenizer(lines, TokenizerConfig("char"))
    text = corpus_text + "🙂"
    ids = tokenizer.encode(text)
    stats = tokenizer_stats(tokenizer, np.bincount(ids, minlength=tokenizer.vocab_size), len(text))
    assert stats.tokens == len(ids) == len(corpus_text) + 4  # the emoji is four byte pieces
    assert stats.fallback_tokens == 4 and stats.fallback_chars == 1
    assert stats.coverage == pytest.approx(1 - 1 / len(text))
    assert stats.top_pieces[0] == ("\u2581", corpus_text.count(" "))


def test_a_vocab_size_too_small_for_the_characters_says_what_is_needed(lines):
    with pytest.raises(CorpusError, match=r"smaller than the \d+ pieces this corpus needs"):
        train_tokenizer(lines, TokenizerConfig("bpe", 300))


def test_a_default_vocab_size_grows_to_fit_many_characters():
    many = ["".join(chr(0x4E00 + i * 7 + j) for j in range(7)) + "\n" for i in range(400)]  # 2,800 CJK chars
    tokenizer = train_tokenizer(many, TokenizerConfig("bpe"))
    assert tokenizer.vocab_size > 2000 and tokenizer.decode(tokenizer.encode(many[5])) == many[5]
