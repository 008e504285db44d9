"""Text files: checking that a file is non-empty UTF-8 text (in one streaming pass, hashing it on the way)
and reading its lines exactly. Imports neither torch nor numpy, so the CLI can check its input at once.
"""

from __future__ import annotations

import codecs
import contextlib
import errno
import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadInput, CorpusError

_READ_BYTES = 1 << 20


@dataclass(frozen=True)
class CorpusInfo:
    path: Path
    bytes: int
    chars: int
    sha256: str


def check_path(path: str | os.PathLike, *, folders: bool = False) -> Path:
    """The quick checks, before anything slow: the file exists and is a file, or a pipe to read once (or, with
    `folders`, a folder of text files)."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise CorpusError(f"{path} is a loop of symbolic links", "point the link at a real file") from None
        if path.is_symlink():
            raise CorpusError(f"{path} is a broken symbolic link (to {os.readlink(path)})",
                              "check where it points") from None
        raise CorpusError(f"corpus file not found: {path}", "check the path") from None
    if stat.S_ISDIR(mode):
        if folders:
            return path
        raise CorpusError(f"{path} is a directory", "pass a text file, e.g. data/corpus.txt")
    if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
        raise CorpusError(f"{path} is not a regular file (a device or socket)", "save the text to a file first")
    if not os.access(path, os.R_OK):
        raise CorpusError(f"{path} cannot be read (permission denied)", f"make it readable, e.g. chmod u+r {path}")
    return path


@contextlib.contextmanager
def readable_copy(path: str | os.PathLike, folder: Path) -> Iterator[Path]:
    """`path` itself for a regular file; for a pipe (`<(zcat notes.gz)`, a FIFO) its text read once into a
    temporary file in `folder`, which is removed afterwards. A FIFO nobody writes to reads as empty at once
    instead of waiting for a writer forever. A folder's text files are joined into one temporary file
    (`join_folder`)."""
    path = check_path(path, folders=True)
    if path.is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder, prefix=".joined-") as copies:
            copy = Path(copies) / f"{path.resolve().name or 'folder'}.txt"  # the name a model's header records
            join_folder(path, copy)
            yield copy
        return
    if not is_pipe(path):
        yield path
        return
    folder.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # opening a FIFO blocks until a writer comes
    os.set_blocking(descriptor, True)  # reading then waits for data, and ends at once when no writer is left
    with tempfile.TemporaryDirectory(dir=folder, prefix=".piped-") as copies:
        copy = Path(copies) / "piped.txt"  # the name a model's header records
        with os.fdopen(descriptor, "rb") as source, copy.open("wb") as target:
            shutil.copyfileobj(source, target)
        yield copy


def text_files(folder: Path) -> tuple[list[Path], list[Path]]:
    """A folder's text files, in a stable order (their paths inside it, sorted), and the files it skipped:
    hidden ones, and those that are not UTF-8 text. Subfolders are read too."""
    found, skipped = [], []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        parts = path.relative_to(folder).parts
        if any(part.startswith(".") for part in parts):
            continue
        try:
            inspect_corpus(path)
            found.append(path)
        except CorpusError:
            skipped.append(path)
    return found, skipped


def join_folder(folder: Path, target: Path) -> None:
    """Every text file in `folder`, one after another, into `target`; each file's end is a document boundary:
    its last line ends, and a blank line follows."""
    files, skipped = text_files(folder)
    if not files:
        reason = f" ({len(skipped)} files skipped: not UTF-8 text)" if skipped else ""
        raise CorpusError(f"{folder} has no text files{reason}", "pass a folder of UTF-8 text files")
    with target.open("w", encoding="utf-8", newline="") as out:
        for path in files:
            last = ""
            for line in iter_lines(path):
                out.write(line)
                last = line
            out.write("\n" if last.endswith(("\n", "\r")) else "\n\n")


def is_pipe(path: str | os.PathLike) -> bool:
    try:
        return stat.S_ISFIFO(Path(path).stat().st_mode)
    except OSError:
        return False


def inspect_corpus(path: str | os.PathLike) -> CorpusInfo:
    """Check that `path` is a non-empty UTF-8 text file, in one streaming pass; raise CorpusError if not."""
    path = check_path(path)
    digest, decoder = hashlib.sha256(), codecs.getincrementaldecoder("utf-8")()
    size = chars = 0
    try:
        with path.open("rb") as handle:
            while block := handle.read(_READ_BYTES):
                if size == 0 and _looks_like_utf16(block):
                    raise CorpusError(f"{path} looks like UTF-16 text, not UTF-8",
                                      "convert it first, e.g. iconv -f utf-16 -t utf-8 in.txt > out.txt")
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


def _looks_like_utf16(start: bytes) -> bool:
    """A UTF-16 byte-order mark, or a NUL in every other byte (ASCII text in UTF-16 without one)."""
    if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return True
    sample = start[:1000]
    return len(sample) >= 8 and (sample[1::2].count(0) > 0.9 * len(sample[1::2])
                                 or sample[0::2].count(0) > 0.9 * len(sample[0::2]))


def iter_lines(path: str | os.PathLike) -> Iterator[str]:
    """The text's lines, each with its own line ending, exactly as in the file (\\r\\n included)."""
    with open(path, encoding="utf-8", newline="") as handle:
        yield from handle


def lines_before(path: str | os.PathLike, chars: int) -> Iterator[str]:
    """The text's first `chars` characters, line by line (the last line cut where they end)."""
    seen = 0
    for line in iter_lines(path):
        if seen + len(line) >= chars:
            if chars > seen:
                yield line[: chars - seen]
            return
        seen += len(line)
        yield line


def decode_utf8(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadInput(f"{what} is not valid UTF-8 (a bad byte at offset {error.start})",
                       "pass UTF-8 text, e.g. convert it with iconv -t utf-8") from None


def check_text(text: str, what: str) -> str:
    """`text` itself, if it is valid Unicode: text read from arguments or stdin keeps bytes that are not UTF-8
    as lone surrogates, which no tokenizer can take."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise BadInput(f"{what} is not valid UTF-8 (a bad byte at character {error.start + 1})",
                       "pass UTF-8 text, e.g. convert it with iconv -t utf-8") from None
    return text
