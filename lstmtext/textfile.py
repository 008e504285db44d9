"""Text files: checking that a file is non-empty UTF-8 text (in one streaming pass, hashing it on the way)
and reading its lines exactly. Imports neither torch nor numpy, so the CLI can check its input at once.
"""

from __future__ import annotations

import codecs
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import CorpusError

_READ_BYTES = 1 << 20


@dataclass(frozen=True)
class CorpusInfo:
    path: Path
    bytes: int
    chars: int
    sha256: str


def check_path(path: str | os.PathLike) -> Path:
    """The quick checks, before anything slow: the file exists and is a file."""
    path = Path(path)
    if not path.exists():
        raise CorpusError(f"corpus file not found: {path}", "check the path")
    if path.is_dir():
        raise CorpusError(f"{path} is a directory", "pass a text file, e.g. data/corpus.txt")
    return path


def inspect_corpus(path: str | os.PathLike) -> CorpusInfo:
    """Check that `path` is a non-empty UTF-8 text file, in one streaming pass; raise CorpusError if not."""
    path = check_path(path)
    digest, decoder = hashlib.sha256(), codecs.getincrementaldecoder("utf-8")()
    size = chars = 0
    try:
        with path.open("rb") as handle:
            while block := handle.read(_READ_BYTES):
                if b"\x00" in block:
                    raise CorpusError(f"{path} looks like a binary file (it contains NUL bytes)",
                                      "pass a plain UTF-8 text file")
                try:
                    chars += len(decoder.decode(block))
                except UnicodeDecodeError as error:
                    raise CorpusError(f"{path} is not valid UTF-8 (bad byte at offset {size + error.start})",
                                      "convert it first, e.g. iconv -f latin1 -t utf-8 in.txt > out.txt") from None
                digest.update(block)
                size += len(block)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise CorpusError(f"{path} is not valid UTF-8 (it ends inside a character)",
                          "convert it first, e.g. iconv -f latin1 -t utf-8 in.txt > out.txt") from None
    except OSError as error:
        raise CorpusError(f"cannot read {path} ({error.strerror})", "check its permissions") from None
    if size == 0 or chars == 0:
        raise CorpusError(f"{path} is empty", "pass a file with text in it")
    return CorpusInfo(path=path, bytes=size, chars=chars, sha256=digest.hexdigest())


def iter_lines(path: str | os.PathLike) -> Iterator[str]:
    """The text's lines, each with its own line ending, exactly as in the file (\\r\\n included)."""
    with open(path, encoding="utf-8", newline="") as handle:
        yield from handle
