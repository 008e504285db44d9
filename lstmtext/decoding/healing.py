"""Token healing: completing text that ends inside a word, at every tokenizer level.

A prefix such as "When there is fi" ends in the middle of what the model knows as one token (" fire" for a
word or bpe model). Fed as typed, the model would see " fi" as a finished piece it rarely met in training and
start a new word. So the prefix is split at the start of its last unit (a word with the space before it, a
punctuation mark, or a whitespace character), the tokens from there on are backed off, and the search must
first re-type those bytes: at each step only tokens that agree with what is left of them are allowed. The
output then extends exactly what was typed, whatever the level. Knows nothing about models.
"""

from __future__ import annotations

import codecs
import functools
import re
import threading
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import torch

from ..core.tokenizer import Tokenizer

# The same units the word tokenizer uses: a word with its leading space, one other character with its space,
# or one whitespace character.
_LAST_UNIT = re.compile(r"(?: ?[^\W_]+| ?[^\w\s]| ?_|\s)\Z")
_CACHED_MASKS = 64
_LONGEST_UNIT = 1000  # characters: a longer "word" is healed from its last 1,000


@dataclass(frozen=True)
class SplitPrefix:
    head_ids: list[int]  # the prefix's tokens up to the backed-off part
    tail: bytes  # the typed text the search must re-type before it adds anything new


def split_prefix(prefix: str, tokenizer: Tokenizer) -> SplitPrefix:
    """Back off the tokens that cover the prefix's last unit (see the module docstring): every token that ends
    after the unit's start, counted from the end (a long prefix costs no more than a short one)."""
    ids = tokenizer.encode(prefix)
    last_unit = _LAST_UNIT.search(prefix, max(0, len(prefix) - _LONGEST_UNIT))  # not a scan of all of it
    if last_unit is None:
        return SplitPrefix(ids, b"")
    encoded = prefix.encode()
    tail_start = len(encoded) - len(prefix[last_unit.start():].encode())
    kept, kept_bytes = len(ids), len(encoded)
    while kept and kept_bytes > tail_start:
        kept, kept_bytes = kept - 1, kept_bytes - len(tokenizer.token_bytes(ids[kept - 1]))
    return SplitPrefix(ids[:kept], encoded[kept_bytes:])


class TokenTable:
    """Every token's bytes, and which tokens agree with a piece of text still to be re-typed."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.token_bytes = [tokenizer.token_bytes(i) for i in range(tokenizer.vocab_size)]
        self.lengths = np.array([len(b) for b in self.token_bytes])
        self._matrix = np.zeros((len(self.token_bytes), max(1, self.lengths.max())), dtype=np.uint8)
        for token_id, data in enumerate(self.token_bytes):
            self._matrix[token_id, : len(data)] = np.frombuffer(data, dtype=np.uint8)
        self._byte_pieces = [tokenizer.is_byte(i) for i in range(len(self.token_bytes))]
        self._masks: OrderedDict[bytes, torch.Tensor] = OrderedDict()
        self._writable: dict[bytes, torch.Tensor] = {}
        self._lock = threading.Lock()

    def allowed(self, tail: bytes) -> torch.Tensor:
        """A bool mask (V,) of the tokens that start with `tail` or that `tail` starts with."""
        with self._lock:
            if tail in self._masks:
                self._masks.move_to_end(tail)
                return self._masks[tail]
        compared = min(len(tail), self._matrix.shape[1])
        typed = np.frombuffer(tail[:compared], dtype=np.uint8)
        differs = self._matrix[:, :compared] != typed
        differs &= np.arange(compared) < self.lengths[:, None]  # bytes past a short token's end don't count
        mask = torch.from_numpy(~differs.any(axis=1) & (self.lengths > 0))
        with self._lock:
            self._masks[tail] = mask
            while len(self._masks) > _CACHED_MASKS:
                self._masks.popitem(last=False)
        return mask

    def covering(self, tail: bytes) -> torch.Tensor:
        """A bool mask (V,) of the tokens that start with all of `tail` (emitting one finishes re-typing it)."""
        return self.allowed(tail) & torch.from_numpy(self.lengths >= len(tail))

    def drawable(self, tail: bytes, written: bytes = b"") -> torch.Tensor:
        """The tokens a sampled path may draw next. While `tail` is still to be re-typed: those that re-type all
        of it where there are any, else those that agree with it. A model that learned the tokenizer's own
        pieces rarely follows a shorter piece (" f") with the rest of the word ("ire"); drawing such a piece in
        proportion to its own probability would often end in a word nobody typed ("firess"). After it, those
        that go on from what the path has `written` as UTF-8 (`writable`)."""
        if not tail:
            return self.writable(unfinished_character(written))
        covering = self.covering(tail)
        return covering if bool(covering.any()) else self.allowed(tail)

    @functools.cached_property
    def word_breaks(self) -> torch.Tensor:
        """A bool mask (V,) of the tokens that cannot go on with a word: those that start with an ASCII character
        that is not a letter or digit (a space, a line break, punctuation)."""
        return torch.tensor([bool(data) and data[0] < 0x80 and not chr(data[0]).isalnum()
                             for data in self.token_bytes])

    def writable(self, pending: bytes) -> torch.Tensor:
        """A bool mask (V,) of the tokens that may follow text ending in `pending`, the first bytes of a character
        not yet complete (b"": none): those whose bytes go on from it as UTF-8, never a control character spelled
        in byte pieces (the training text did not hold it as a piece of its own), nor a token without text. So
        sampled text has no broken character (U+FFFD) in it, whatever the temperature."""
        with self._lock:
            mask = self._writable.get(pending)
        if mask is None:
            mask = torch.tensor([_continues(pending, data, byte) for data, byte in zip(self.token_bytes,
                                                                                       self._byte_pieces)])
            with self._lock:
                self._writable[pending] = mask
        return mask


def unfinished_character(written: bytes) -> bytes:
    """The bytes at the end of `written` that begin a UTF-8 character not yet complete (b"" if none)."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    decoder.decode(written[-3:], final=False)
    return decoder.getstate()[0]


# Control characters (one or two bytes; every character begun in bytes can still end as another) other than these.
# Refusing unassigned or private-use characters too would leave whole ranges of begun characters with no ending.
_KEPT_CONTROLS = "\n\t\r"


def _continues(pending: bytes, data: bytes, byte_piece: bool) -> bool:
    """Whether a token of bytes `data` may follow `pending` (see TokenTable.writable)."""
    if not data:
        return False
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    try:
        completed = decoder.decode(pending + data, final=False)
    except UnicodeDecodeError:
        return False
    if not _completable(decoder.getstate()[0]):
        return False
    return not byte_piece or not any(unicodedata.category(char) == "Cc" and char not in _KEPT_CONTROLS
                                     for char in completed)


def _completable(begun: bytes) -> bool:
    """Whether the first bytes of a character can still end as one: Python's decoder lets b"\\xed\\xbe" (the start
    of a surrogate, which no byte makes valid) wait for more. Tried with the least continuation bytes that can
    follow its lead byte (U+0800 and U+10000 need a larger second byte)."""
    if not begun:
        return True
    length = 2 if begun[0] < 0xE0 else 3 if begun[0] < 0xF0 else 4
    second = bytes([{0xE0: 0xA0, 0xF0: 0x90}.get(begun[0], 0x80)])
    filler = (second if len(begun) == 1 else b"") + b"\x80" * (length - max(len(begun), 2))
    try:
        codecs.decode(begun + filler, "utf-8")
    except UnicodeDecodeError:
        return False
    return True


def advance(tail: bytes, token: bytes) -> tuple[bytes, bytes]:
    """After emitting `token` (which agrees with `tail`): what is left to re-type, and the new output bytes."""
    if len(token) <= len(tail):
        return tail[len(token):], b""
    return b"", token[len(tail):]
