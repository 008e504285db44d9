"""Learning a tokenizer: SentencePiece trained on a sample of the corpus's lines, with the settings that give
tokenizer.py's exact round trip; the word level learns words and a character model to spell the rest."""

from __future__ import annotations

import io
import random
import re
from collections.abc import Iterable, Iterator

import sentencepiece as spm

from ..errors import CorpusError
from ..options import TokenizerConfig
from .tokenizer import WORD_UNIT, SubwordTokenizer, Tokenizer, WordTokenizer

_TOO_HIGH = re.compile(r"<= ?(\d+)")
_TOO_LOW = re.compile(r"smaller than required_chars\. (\d+) vs (\d+)")
_MAX_SENTENCE_CHARS = 2000
# SentencePiece learns from at most about this much text (a random sample of the lines of a bigger corpus).
TOKENIZER_SAMPLE_CHARS = 10_000_000
EXTRA_SYMBOLS = ["\n", "\t"]  # pieces of their own at every level


def _spm_options(model_type: str, vocab_size: int) -> dict:
    return dict(
        model_type=model_type, vocab_size=vocab_size, hard_vocab_limit=False,
        normalization_rule_name="identity", remove_extra_whitespaces=False, add_dummy_prefix=False,
        allow_whitespace_only_pieces=True, split_digits=False, character_coverage=1.0,
        byte_fallback=model_type != "word", user_defined_symbols=EXTRA_SYMBOLS,
        unk_id=0, bos_id=-1, eos_id=-1, pad_id=-1, max_sentence_length=_MAX_SENTENCE_CHARS * 4,
        minloglevel=2, num_threads=2,
    )


def _train_sentencepiece(sentences: Iterable[str], model_type: str, vocab_size: int, *,
                         vocab_size_is_firm: bool = False) -> bytes:
    """Train one SentencePiece model; if the text cannot fill `vocab_size`, retry with what it can.
    Where every character plus the byte pieces need more room, a default size grows to fit; a size
    the user chose (`vocab_size_is_firm`) is an error instead."""
    sentences = list(sentences)
    if not sentences:
        raise CorpusError("the corpus has no text to learn a tokenizer from", "pass a file with some words in it")
    for _ in range(3):
        model = io.BytesIO()
        try:
            spm.SentencePieceTrainer.train(sentence_iterator=iter(sentences), model_writer=model,
                                           **_spm_options(model_type, vocab_size))
            return model.getvalue()
        except RuntimeError as error:
            too_low = _TOO_LOW.search(str(error))
            if too_low and vocab_size_is_firm:
                raise CorpusError("{name} {value} is smaller than the {needed} pieces this corpus needs (every "
                                  "character plus 256 byte pieces)", "pass {example} or more", field="vocab_size",
                                  value=vocab_size, needed=too_low.group(2), example=int(too_low.group(2))) from None
            match = _TOO_HIGH.search(str(error)) or too_low
            if not match:
                raise CorpusError("SentencePiece could not learn a {kind} tokenizer ({error})",
                                  "try another {name} or a larger corpus", field="level", kind=model_type,
                                  error=error) from None
            vocab_size = int(match.group(match.lastindex))
    raise CorpusError(f"SentencePiece could not fit a {model_type} vocabulary", "pass a smaller {name}",
                      field="vocab_size")


def _sentences(lines: Iterable[str]) -> Iterator[str]:
    """Lines cut to a length SentencePiece accepts (it silently skips longer ones)."""
    for line in lines:
        for start in range(0, len(line), _MAX_SENTENCE_CHARS):
            yield line[start:start + _MAX_SENTENCE_CHARS]


def sample_sentences(lines: Iterable[str], budget_chars: int, seed: int = 0) -> list[str]:
    """Every line (cut to SentencePiece's limit) if they fit in about `budget_chars` characters; else a
    uniform random sample of them that size, in one pass with memory bounded by the budget (reservoir
    sampling: once the budget is reached the sample keeps its number of lines)."""
    sample: list[str] = []
    kept_chars, seen, rng = 0, 0, random.Random(seed)
    for line in _sentences(lines):
        seen += 1
        if kept_chars < budget_chars and len(sample) == seen - 1:
            sample.append(line)
            kept_chars += len(line)
        else:
            slot = rng.randrange(seen)
            if slot < len(sample):
                sample[slot] = line
    return sample


def train_tokenizer(lines: Iterable[str], config: TokenizerConfig,
                    sample_chars: int = TOKENIZER_SAMPLE_CHARS) -> Tokenizer:
    """Learn a tokenizer from lines of text (each line keeping its newline); a big text is sampled down to
    about `sample_chars` characters first, so memory does not grow with the corpus."""
    lines = sample_sentences(lines, sample_chars)
    if config.own_level != "word":
        proto = _train_sentencepiece(lines, config.own_level, config.max_vocab_size,
                                     vocab_size_is_firm=config.vocab_size is not None)
        return SubwordTokenizer(config.own_level, proto)
    units = (u for line in lines for u in WORD_UNIT.findall(line) if not u.isspace())
    word_proto = _train_sentencepiece(units, "word", config.max_vocab_size)
    char_proto = _train_sentencepiece(lines, "char", 1024)
    return WordTokenizer(word_proto, char_proto)
