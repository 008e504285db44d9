"""SentencePiece tokenizers for every level (char, word, bpe, unigram) with an exact round trip.

SentencePiece is told to keep text as it is: identity normalization, no folded spaces, no dummy prefix,
newline and tab as pieces of their own, and byte fallback so that unseen characters become byte pieces.
The word level learns its vocabulary with SentencePiece's word model and spells out any word it does not
know with a character model, so it round-trips any text too. Knows nothing about models.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import sentencepiece as spm

SPACE_MARK = "\u2581"  # SentencePiece's visible space, "▁"
SPACE_MARK_BYTES = [f"<0x{b:02X}>" for b in SPACE_MARK.encode()]
# A word-level unit: a run of letters/digits, or one other character, each with the space before it.
WORD_UNIT = re.compile(r" ?[^\W_]+| ?[^\w\s]| ?_|\s")
_REMEMBERED_LINES, _REMEMBERED_LINE_CHARS = 2048, 4000  # the word tokenizer's memory of lines it encoded


class SubwordTokenizer:
    """char, bpe and unigram: one SentencePiece model with byte fallback."""

    def __init__(self, level: str, model_proto: bytes) -> None:
        self.level = level
        self.model_proto = model_proto
        self._sp = spm.SentencePieceProcessor(model_proto=model_proto)
        self._space_mark_ids = [self._sp.piece_to_id(p) for p in SPACE_MARK_BYTES]

    @property
    def vocab_size(self) -> int:
        return self._sp.get_piece_size()

    def encode(self, text: str) -> list[int]:
        # A literal "▁" would decode as a space; send it as its three bytes instead.
        parts = text.split(SPACE_MARK)
        ids: list[int] = self._sp.encode(parts[0])
        for part in parts[1:]:
            ids += self._space_mark_ids + self._sp.encode(part)
        return ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        if any(SPACE_MARK in t for t in texts):
            return [self.encode(t) for t in texts]
        return self._sp.encode(texts, num_threads=2)

    def decode(self, ids: Iterable[int]) -> str:
        return self._sp.decode([int(i) for i in ids])

    def piece(self, token_id: int) -> str:
        return self._sp.id_to_piece(int(token_id))

    def is_fallback(self, token_id: int) -> bool:
        """True for byte pieces: text the vocabulary does not cover."""
        return self._sp.is_byte(int(token_id)) or self._sp.is_unknown(int(token_id))

    def fallback_chars(self, token_id: int) -> int:
        """How many characters of uncovered text this piece starts: 1 for a byte piece that begins a
        UTF-8 character, 0 for a continuation byte or a real piece."""
        token_id = int(token_id)
        if self._sp.is_unknown(token_id):
            return 1
        if not self._sp.is_byte(token_id):
            return 0
        byte = int(self._sp.id_to_piece(token_id)[3:5], 16)
        return 0 if 0x80 <= byte < 0xC0 else 1

    def is_byte(self, token_id: int) -> bool:
        return self._sp.is_byte(int(token_id))

    def token_bytes(self, token_id: int) -> bytes:
        """The UTF-8 bytes this token adds to decoded text (empty for special pieces)."""
        token_id = int(token_id)
        if self._sp.is_byte(token_id):
            return bytes([int(self._sp.id_to_piece(token_id)[3:5], 16)])
        if self._sp.is_unknown(token_id) or self._sp.is_control(token_id):
            return b""
        return self._sp.id_to_piece(token_id).replace(SPACE_MARK, " ").encode()

    def blobs(self) -> dict[str, bytes]:
        return {"main": self.model_proto}


class WordTokenizer:
    """Whole words from SentencePiece's word model; unknown words spelled out by a char model.

    Ids below `word_count` are words, the rest are the char model's ids shifted up by `word_count`.
    """

    level = "word"

    def __init__(self, word_proto: bytes, char_proto: bytes) -> None:
        self.word_proto = word_proto
        self._words = spm.SentencePieceProcessor(model_proto=word_proto)
        self._chars = SubwordTokenizer("char", char_proto)
        self.word_count = self._words.get_piece_size()
        self._word_ids = {
            self._words.id_to_piece(i).replace(SPACE_MARK, " "): i
            for i in range(self.word_count)
            if not (self._words.is_unknown(i) or self._words.is_control(i))
        }
        self._lines: dict[str, list[int]] = {}  # lines encoded lately: typing in a long text re-encodes one

    @property
    def vocab_size(self) -> int:
        return self.word_count + self._chars.vocab_size

    def encode(self, text: str) -> list[int]:
        """Line by line, each line remembered: every line break (any `str.splitlines` separator) is a unit of
        its own, so the units, and the ids, of the whole are those of its lines."""
        ids: list[int] = []
        for line in text.splitlines(keepends=True):
            ids += self._encode_line(line)
        return ids

    def _encode_line(self, line: str) -> list[int]:
        if len(line) > _REMEMBERED_LINE_CHARS:
            return self._encode_units(line)
        ids = self._lines.get(line)
        if ids is None:
            if len(self._lines) >= _REMEMBERED_LINES:
                self._lines.clear()
            ids = self._lines[line] = self._encode_units(line)
        return ids

    def _encode_units(self, text: str) -> list[int]:
        ids: list[int] = []
        for unit in WORD_UNIT.findall(text):
            word_id = None if SPACE_MARK in unit else self._word_ids.get(unit)
            if word_id is None:
                ids += [self.word_count + i for i in self._chars.encode(unit)]
            else:
                ids.append(word_id)
        return ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return [self.encode(t) for t in texts]

    def decode(self, ids: Iterable[int]) -> str:
        out: list[str] = []
        spelled: list[int] = []
        for token_id in ids:
            token_id = int(token_id)
            if token_id >= self.word_count:
                spelled.append(token_id - self.word_count)
                continue
            if spelled:
                out.append(self._chars.decode(spelled))
                spelled = []
            out.append(self._words.id_to_piece(token_id).replace(SPACE_MARK, " "))
        if spelled:
            out.append(self._chars.decode(spelled))
        return "".join(out)

    def piece(self, token_id: int) -> str:
        token_id = int(token_id)
        if token_id >= self.word_count:
            return self._chars.piece(token_id - self.word_count)
        return self._words.id_to_piece(token_id)

    def token_bytes(self, token_id: int) -> bytes:
        """The UTF-8 bytes this token adds to decoded text (empty for special pieces)."""
        token_id = int(token_id)
        if token_id >= self.word_count:
            return self._chars.token_bytes(token_id - self.word_count)
        if self._words.is_unknown(token_id) or self._words.is_control(token_id):
            return b""
        return self._words.id_to_piece(token_id).replace(SPACE_MARK, " ").encode()

    def is_byte(self, token_id: int) -> bool:
        return token_id >= self.word_count and self._chars.is_byte(token_id - self.word_count)

    def is_fallback(self, token_id: int) -> bool:
        """True for spelled-out pieces: words the vocabulary does not hold."""
        return int(token_id) >= self.word_count

    def fallback_chars(self, token_id: int) -> int:
        """How many characters of spelled-out text (a word not in the vocabulary) this piece starts."""
        token_id = int(token_id)
        if token_id < self.word_count:
            return 0
        char_id = token_id - self.word_count
        return self._chars.fallback_chars(char_id) or int(not self._chars.is_byte(char_id))

    def blobs(self) -> dict[str, bytes]:
        return {"main": self.word_proto, "fallback": self._chars.model_proto}


Tokenizer = SubwordTokenizer | WordTokenizer


def tokenizer_from_blobs(level: str, blobs: dict[str, bytes]) -> Tokenizer:
    if level == "word":
        return WordTokenizer(blobs["main"], blobs["fallback"])
    return SubwordTokenizer(level, blobs["main"])
