"""How a tokenizer cuts a corpus: size, compression, coverage and the most frequent pieces."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .tokenizer import Tokenizer


@dataclass(frozen=True)
class TokenizerStats:
    """What `lstmtext tokenize` shows: size, compression, coverage and the most frequent pieces."""

    level: str
    vocab_size: int
    tokens: int
    chars: int
    fallback_tokens: int
    fallback_chars: int
    top_pieces: list[tuple[str, int]]

    @property
    def chars_per_token(self) -> float:
        return self.chars / max(self.tokens, 1)

    @property
    def coverage(self) -> float:
        """Share of the text's characters covered by real pieces rather than byte or spelled-out fallback."""
        return 1.0 - self.fallback_chars / max(self.chars, 1)


def tokenizer_stats(tokenizer: Tokenizer, token_counts: np.ndarray, chars: int, top: int = 12) -> TokenizerStats:
    """Stats from `token_counts[i]`, how often piece i occurs in a text of `chars` characters."""
    weights = np.array([tokenizer.fallback_chars(i) for i in range(tokenizer.vocab_size)], dtype=np.int64)
    counts = np.zeros(tokenizer.vocab_size, dtype=np.int64)
    counts[: len(token_counts)] = token_counts[: tokenizer.vocab_size]
    is_fallback = np.array([tokenizer.is_fallback(i) for i in range(tokenizer.vocab_size)])
    order = np.argsort(-counts, kind="stable")[:top]
    return TokenizerStats(
        level=tokenizer.level, vocab_size=tokenizer.vocab_size, tokens=int(counts.sum()), chars=chars,
        fallback_tokens=int(counts[is_fallback].sum()), fallback_chars=int(counts @ weights),
        top_pieces=[(tokenizer.piece(i), int(counts[i])) for i in order if counts[i] > 0],
    )
