"""Writing files safely. Imports nothing heavy."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..options.checks import require_option


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that a crash leaves either the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _refuse_special_file(path, None, "the output")
    remove_leftovers(path)
    temporary = temporary_path(path)
    try:
        with temporary.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def temporary_path(path: Path) -> Path:
    """Where this process writes `path` before renaming it into place."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def remove_leftovers(path: Path) -> None:
    """Temporary files for `path` left by processes that were killed mid-write (their PID is gone)."""
    for leftover in path.parent.glob(f".{path.name}.*.tmp"):
        pid = leftover.name[len(path.name) + 2: -len(".tmp")]
        if pid.isdigit() and not _process_exists(int(pid)):
            leftover.unlink(missing_ok=True)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def check_output_file(path: Path, field: str | None) -> None:
    """Before any work: the result can be written to `path` (the option `field`, or None: the model file). It is
    a new path or a regular file (never a folder, a device or a pipe: the rename at the end would replace it),
    its folder can be made, and a file of its temporary name can be created there (a name too long, a read-only
    or pseudo file system fail here)."""
    option = "{name}" if field else "the model file"
    require_option(not path.is_dir(), field, option + " {path} is a folder", "give a file name, e.g. {example}",
                   path=path, example=path / "out")
    _refuse_special_file(path, field, option)
    probe = temporary_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with probe.open("xb"):
            pass
        probe.unlink()
    except OSError as error:
        require_option(False, field, "cannot write " + option + " {path} ({why})",
                       "choose another " + option + " in a folder you can write to", path=path,
                       why=error.strerror or error)


def _refuse_special_file(path: Path, field: str | None, option: str) -> None:
    try:
        mode = path.stat().st_mode
    except OSError:
        return  # a new path
    require_option(stat.S_ISREG(mode), field, option + " {path} exists and is not a regular file (a device, pipe "
                   "or socket)", "give the path of a new file or of a file to replace", path=path)
