"""Hostile copies of a model file — header values of every type and size, deep nesting, huge numbers, a missing or
wrong checksum, truncations, flipped bytes — and what `lstmtext info` and `lstmtext complete` do with each: a clean
one-line error or a correct answer, never a traceback, a hang over 5 s, more than 1 GB of memory or damaged weights
taken for good ones. tests/test_hostile_models.py loads a sample of them in-process.

    python -m bench.hostile_models [MODEL]     (default: a small model trained here first)
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

_VALUES = ["x", "", "²", -1, 0, 1.5, 2e7, 10 ** 30, 1e308, True, None, [], {}, [1, 2], {"a": 1}]
_DEEP = "[" * 100_000 + "]" * 100_000
_HUGE = "9" * 5000


def _read(path: Path) -> tuple[dict, dict, bytes]:
    """A safetensors file as its metadata, its tensor table and the tensors' bytes."""
    data = path.read_bytes()
    length = int.from_bytes(data[:8], "little")
    table = json.loads(data[8:8 + length])
    return table.pop("__metadata__", {}), table, data[8 + length:]


def _write(metadata: dict, table: dict, body: bytes, *, raw_header: str | None = None) -> bytes:
    table = {"__metadata__": metadata, **table} if raw_header is None else table
    text = (json.dumps(table) if raw_header is None else raw_header).encode()
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + body


def _leaves(value: object, where: tuple = ()) -> Iterator[tuple]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _leaves(inner, (*where, key))
    elif isinstance(value, list) and value and isinstance(value[0], dict):
        for index, inner in enumerate(value):
            yield from _leaves(inner, (*where, index))
    else:
        yield where


def _replaced(header: dict, where: tuple, value: object) -> dict:
    copy = json.loads(json.dumps(header))
    inner = copy
    for key in where[:-1]:
        inner = inner[key]
    inner[where[-1]] = value
    return copy


def mutations(model: Path, seed: int = 0) -> Iterator[tuple[str, bytes, bool]]:
    """(what was changed, the file's bytes, whether it must be refused) for about 300 hostile copies of `model`,
    the same ones every time. Must be refused: damaged weights and files cut short; a changed header may be one
    that still makes sense."""
    rng = random.Random(seed)
    metadata, table, body = _read(model)
    header = json.loads(metadata["header"])
    for where in _leaves(header):
        for value in rng.sample(_VALUES, 2):
            changed = {**metadata, "header": json.dumps(_replaced(header, where, value))}
            yield f"{'.'.join(map(str, where))} = {value!r}", _write(changed, table, body), False
        raw = rng.choice((_HUGE, _DEEP))
        text = json.dumps(_replaced(header, where, "@@")).replace('"@@"', raw)
        yield (f"{'.'.join(map(str, where))} = <{len(raw):,} characters>",
               _write({**metadata, "header": text}, table, body), True)
    for section in ("model", "tokenizer", "metrics", "corpus", "run", "training", "adaptation"):
        for value in ("text", [1], 7, None):
            damaged = _write({**metadata, "header": json.dumps({**header, section: value})}, table, body)
            yield f"{section} = {value!r}", damaged, section in ("model", "tokenizer") or value is not None
    for key, values in (("format_version", ["²", "99", "", "-1", _HUGE, "1", "0"]), ("format", ["x", ""]),
                        ("header", ["{", "[]", "null", _DEEP, _HUGE]), ("checksum", ["0" * 64, ""])):
        for value in values:
            damaged = _write({**metadata, key: value}, table, body)
            yield f"metadata {key} = {value[:20]!r}", damaged, value not in ("0", "1")
    for key in ("checksum", "header", "format", "format_version"):
        yield (f"metadata without {key}", _write({k: v for k, v in metadata.items() if k != key}, table, body),
               key != "format_version")
    # Format 1 files from before checksums load without one (3 such cases took damaged weights for good ones
    # when format 2 could lack it too): here, one claiming format 1 with intact weights.
    yield "no checksum, claiming format 1", _write(
        {**{k: v for k, v in metadata.items() if k != "checksum"}, "format_version": "1"}, table, body), False
    whole = _write(metadata, table, body)
    for fraction in (0.0, 0.001, 0.01, 0.1, 0.5, 0.9, 0.999):
        yield f"cut at {fraction:.1%}", whole[:int(len(whole) * fraction)], True
    for index in range(30):
        yield f"flipped bytes, tensors #{index}", _write(metadata, table, _flip(body, rng)), True
    start = 8 + int.from_bytes(whole[:8], "little")
    for _ in range(10):
        at = rng.randrange(8, start)
        yield f"flipped byte in the header at {at}", whole[:at] + bytes([whole[at] ^ 0x55]) + whole[at + 1:], False
    for name in list(table)[:3]:
        shape = {**table[name], "shape": [10 ** 12, 10 ** 6]}
        yield f"tensor {name} claims a huge shape", _write(metadata, {**table, name: shape}, body), True


def _flip(body: bytes, rng: random.Random) -> bytes:
    at = rng.randrange(len(body))
    return body[:at] + bytes([body[at] ^ 0xFF]) + body[at + 1:]


def run_command(args: list[str], home: Path, timeout: float = 5.0) -> dict:
    """`lstmtext ARGS` in a process of its own: exit code (None: killed after `timeout` beyond starting), stderr,
    seconds and peak memory (MB)."""
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "lstmtext", *args], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, env={**os.environ, "LSTMTEXT_HOME": str(home)})
    errors = bytearray()
    reader = threading.Thread(target=lambda: errors.extend(process.stderr.read()), daemon=True)
    reader.start()
    while (ended := os.wait4(process.pid, os.WNOHANG))[0] == 0:
        if time.monotonic() - started > timeout + _START_S:
            process.kill()
            os.wait4(process.pid, 0)
            process.returncode = -9
            return {"exit": None, "stderr": "", "seconds": time.monotonic() - started, "peak_mb": None}
        time.sleep(0.02)
    process.returncode = os.waitstatus_to_exitcode(ended[1])
    reader.join(5)
    return {"exit": process.returncode, "stderr": errors.decode(errors="replace"),
            "seconds": time.monotonic() - started, "peak_mb": ended[2].ru_maxrss / 1024}


_START_S = 5.0  # Python and torch starting, on top of the 5 s a hostile file may take
_MOST_MB = 1024 + 600  # 1 GB beyond what Python, torch and a small model take (about 500 MB here)


def main(model: Path | None = None) -> int:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        model = model or _small_model(folder)
        found = {"cases": 0, "runs": 0, "refused": 0, "slowest_s": 0.0, "highest_peak_mb": 0.0, "bad": []}
        for what, data, must_refuse in mutations(model):
            path = folder / "hostile.lstm"
            path.write_bytes(data)
            found["cases"] += 1
            for args in (["info", "--model", str(path)], ["complete", "When", "--model", str(path), "--max-tokens",
                                                          "2"]):
                result = run_command(args, folder)
                found["runs"] += 1
                found["refused"] += result["exit"] not in (0, None)
                found["slowest_s"] = round(max(found["slowest_s"], result["seconds"]), 2)
                found["highest_peak_mb"] = round(max(found["highest_peak_mb"], result["peak_mb"] or 0), 1)
                if problem := _judged(result, must_refuse):
                    found["bad"].append({"case": what, "command": args[0], "problem": problem})
                    print(f"{what}: {args[0]}: {problem}", file=sys.stderr)
        print(json.dumps(found, indent=1))
        return 1 if found["bad"] else 0


def _judged(result: dict, must_refuse: bool) -> str | None:
    """What is wrong with a run on a hostile file, or None: it answered (where it may), or refused in one
    `error:` line, within its time and memory."""
    lines = result["stderr"].strip().splitlines()
    if result["exit"] is None:
        return "hung"
    if result["peak_mb"] > _MOST_MB:
        return f"{result['peak_mb']:.0f} MB"
    if must_refuse and result["exit"] == 0:
        return "damaged file accepted"
    if result["exit"] != 0 and not (len(lines) == 1 and lines[0].startswith("error: ")):
        return f"exit {result['exit']}: {result['stderr'][-300:]!r}"
    if result["exit"] == 0 and any("Traceback" in line for line in lines):
        return "traceback"
    return None


def _small_model(folder: Path) -> Path:
    subprocess.run([sys.executable, "-m", "lstmtext", "train", "data/corpus.txt", "--out", str(folder / "m.lstm"),
                    "--level", "char", "--layers", "1", "--hidden", "32", "--max-steps", "20"], check=True,
                   env={**os.environ, "LSTMTEXT_HOME": str(folder)}, capture_output=True)
    return folder / "m.lstm"


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else None))
