"""Streaming text into a cached token memmap; the held-out tail, the batch streams and the BPTT windows.

The corpus is never held as one Python string: it is read in lines, encoded in chunks and written to a
numpy memmap that later runs reuse while the corpus and tokenizer are unchanged.

How training reads it, for a corpus of 26 tokens a..z, 6 held out, a batch of 3 and windows (seq_len) of 3:

    hold_out_tail(ids, 6)          batchify(training ids, 3)     bptt_windows(training streams, 3)
    (the corpus's last tokens)     (contiguous thirds)            (inputs; targets are the next token)

    a b ... s t | u v w x y z      a b c d e f                    window 1   window 2
    training      validation  ->   g h i j k l            ->      a b c      d e
                                   m n o p q r                    g h i      j k
                                   (s t dropped)                  m n o      p q
                                                                  targets: b c d / e f, h i j / k l, ...

Each row is one stretch of text read from its start to its end, so the LSTM's state at the end of a window
is where the same row goes on in the next: it is carried over (detached, so gradients stop at the window's
edge). Validation is text that comes after everything the model trains on, as a person's next page does, and is
scored as `LanguageModel.evaluate` scores a file (`scoring_streams`): so what `train` reports is what `eval`
would say of new text. (Holding out pieces spread through the corpus instead read 10% too well on
tinyshakespeare: the model had trained on the scenes around each piece.)
"""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..errors import CorpusError
from .files import remove_leftovers, temporary_path
from .textfile import CorpusInfo, iter_lines
from .tokenizer import Tokenizer

_ENCODE_LINES = 4096


def token_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16 if vocab_size <= 1 << 16 else np.uint32)


def encode_corpus(info: CorpusInfo, tokenizer: Tokenizer, cache_dir: Path,
                  chunk_lines: int = _ENCODE_LINES) -> np.ndarray:
    """Token ids of the whole corpus as a read-only memmap, encoded once and cached by content. The text is
    read and encoded `chunk_lines` lines at a time and written out as it goes, so memory stays flat. Where the
    cache cannot be written (a read-only store), the ids are encoded into memory instead."""
    key = hashlib.sha256(info.sha256.encode())
    for name, blob in sorted(tokenizer.blobs().items()):
        key.update(name.encode() + blob)
    dtype = token_dtype(tokenizer.vocab_size)
    cache = cache_dir / f"{key.hexdigest()[:32]}.{dtype.name}"
    if not cache.exists():
        try:
            _write_token_cache(info, tokenizer, cache, dtype, chunk_lines)
        except OSError as error:
            if error.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise
            lines = [np.asarray(line_ids, dtype=dtype) for chunk in _line_chunks(info.path, chunk_lines)
                     for line_ids in tokenizer.encode_batch(chunk)]
            return _nonempty(np.concatenate(lines or [np.zeros(0, dtype)]), info)
    return _nonempty(np.memmap(cache, dtype=dtype, mode="r") if cache.stat().st_size else np.zeros(0, dtype), info)


def _write_token_cache(info: CorpusInfo, tokenizer: Tokenizer, cache: Path, dtype: np.dtype,
                       chunk_lines: int) -> None:
    """Encode into a temporary file beside `cache`, then rename it into place; a failure (a full disk, Ctrl-C)
    removes the temporary file, and ones left by killed processes are cleared first."""
    cache.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(cache)
    temporary = temporary_path(cache)
    try:
        with temporary.open("wb") as out:
            for chunk in _line_chunks(info.path, chunk_lines):
                for ids in tokenizer.encode_batch(chunk):
                    out.write(np.asarray(ids, dtype=dtype).tobytes())
        os.replace(temporary, cache)
    finally:
        temporary.unlink(missing_ok=True)


def _nonempty(ids: np.ndarray, info: CorpusInfo) -> np.ndarray:
    if len(ids) == 0:
        raise CorpusError(f"{info.path} has no tokens", "pass a file with text in it")
    return ids


def _line_chunks(path: Path, size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for line in iter_lines(path):
        chunk.append(line)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def held_out_count(total: int, val_fraction: float, most: int) -> int:
    """How many of `total` tokens to hold out for validation: `val_fraction` of them, at most `most` (a
    validation set big enough to compare evaluations; every token beyond it is better spent training)."""
    return max(2, min(int(total * val_fraction), most))


def hold_out_tail(ids: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """The corpus's token ids split into what training reads and the last `count`, held out; both views."""
    return ids[: len(ids) - count], ids[len(ids) - count:]


# Rows scored side by side when scoring a text; each starts from a zero state.
SCORING_ROWS = 16


def scoring_streams(ids: np.ndarray, seq_len: int) -> np.ndarray:
    """A text laid out for scoring: up to SCORING_ROWS streams, none shorter than one window."""
    return batchify(ids, max(1, min(SCORING_ROWS, len(ids) // (seq_len + 1))))


def check_length(train_tokens: int, val_tokens: int, seq_len: int, path: Path) -> None:
    if train_tokens < seq_len + 1 or val_tokens < 2:
        raise CorpusError("{path} is too short: {tokens} tokens, fewer than one training sequence of {seq_len} plus "
                          "a validation part", "use a longer text or a smaller {name}", field="seq_len", path=path,
                          tokens=train_tokens + val_tokens, seq_len=seq_len)


def batchify(ids: np.ndarray, batch_size: int) -> np.ndarray:
    """Lay the token sequence out as `batch_size` parallel streams, shape (B, L): row b continues where it
    left off from one batch to the next, which is what lets the hidden state carry across batches."""
    length = len(ids) // batch_size
    return ids[: length * batch_size].reshape(batch_size, length)


def bptt_windows(streams: np.ndarray, seq_len: int, start: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Consecutive (inputs, targets) windows of up to `seq_len` tokens over the streams, targets shifted
    by one. The last window may be shorter."""
    length = streams.shape[1]
    for begin in range(start, length - 1, seq_len):
        end = min(begin + seq_len, length - 1)
        yield streams[:, begin:end], streams[:, begin + 1:end + 1]


def windows_per_epoch(streams: np.ndarray, seq_len: int) -> int:
    return max(0, -(-(streams.shape[1] - 1) // seq_len))
