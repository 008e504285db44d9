"""Token healing: completing text that ends inside a word, at every tokenizer level.

A prefix such as "When there is fi" ends in the middle of what the model knows as one token (" fire" for a
word or bpe model). Fed as typed, the model would see " fi" as a finished piece it rarely met in training and
start a new word. So the prefix is split at the start of its last unit (a word with the space before it, a
punctuation mark, or a whitespace character), the tokens from there on are backed off, and the search must
first re-type those bytes: at each step only tokens that agree with what is left of them are allowed. The
output then extends exactly what was typed, whatever the level. Knows nothing about models.
"""

from __future__ import annotations

import re
import threading
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
        self._masks: OrderedDict[bytes, torch.Tensor] = OrderedDict()
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

    def drawable(self, tail: bytes) -> torch.Tensor:
        """The tokens a sampled path may draw while `tail` is still to be re-typed: those that re-type all of it
        where there are any, else those that agree with it. A model that learned the tokenizer's own pieces
        rarely follows a shorter piece (" f") with the rest of the word ("ire"); drawing such a piece in
        proportion to its own probability would often end in a word nobody typed ("firess")."""
        covering = self.covering(tail)
        return covering if tail and bool(covering.any()) else self.allowed(tail)


def advance(tail: bytes, token: bytes) -> tuple[bytes, bytes]:
    """After emitting `token` (which agrees with `tail`): what is left to re-type, and the new output bytes."""
    if len(token) <= len(tail):
        return tail[len(token):], b""
    return b"", token[len(tail):]
