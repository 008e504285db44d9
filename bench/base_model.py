"""`make base`'s last step: the trained base model made into the built-in one, lstmtext/builtin/english.lstm.

    python -m bench.base_model TRAINED.lstm [--first-run FIRST.lstm] [--out lstmtext/builtin/english.lstm]

The weights are stored in bf16 (half the size; the file must stay within 25 MB), after checking that they read the
development corpora's held-out tails (../shared/data: the last 10% of tinyshakespeare and pride-and-prejudice,
text the base corpus does not contain) as well as the fp32 weights do. The model's card, written into its header
(`lstmtext info --model english` shows it), says what it learned from, under which licences, how long, on what,
and those held-out figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
from pathlib import Path

import torch

import lstmtext
from lstmtext.core.bundle import Bundle, save_bundle
from lstmtext.core.model_file import read_model

from .corpora import SHARED_DATA

ROOT = Path(__file__).resolve().parent.parent
HELD_OUT_OF = ("tinyshakespeare.txt", "pride-and-prejudice.txt")
MOST_BYTES = 25_000_000
SOURCES = ("99 English novels of 1840-1920 (ELTeC-eng 1.0.1, COST Action CA16204: the texts in the public domain, "
           "the markup CC BY 4.0) and the Python 3.11 documentation's sources (Python Software Foundation License): "
           "74.5 M characters, ../shared/data/base (its README gives the sources)")


def held_out_tails(folder: Path) -> dict[str, Path]:
    """The last 10% of each development corpus there is, written to `folder`."""
    tails = {}
    for name in HELD_OUT_OF:
        if (SHARED_DATA / name).is_file():
            text = (SHARED_DATA / name).read_text(encoding="utf-8")
            tails[Path(name).stem] = folder / name
            tails[Path(name).stem].write_text(text[int(len(text) * 0.9):], encoding="utf-8")
    return tails


def this_cpu(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """'2 cores of an Intel(R) Xeon(R) Processor with AMX', as far as /proc/cpuinfo tells."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return platform.machine()
    names = [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")]
    flags = set(text.split())
    units = " with AMX" if "amx_bf16" in flags else " with AVX512-BF16" if "avx512_bf16" in flags else ""
    return f"{os.cpu_count()} cores of {names[0] if names else platform.machine()}{units}"


def card(header: dict, figures: dict[str, float], cpu: str, first_run: dict | None = None) -> str:
    """The model card; `first_run` is the header of the run that this one continued (`make base` trains twice)."""
    run, model = header["run"], header["model"]
    runs = [first_run["run"], run] if first_run else [run]
    hours = sum(each["train_seconds"] for each in runs) / 3600
    seen = sum(each["tokens_seen"] for each in runs)
    how = (f" in two runs: {first_run['run']['tokens_seen']:,} tokens of all of it, then {run['tokens_seen']:,} of "
           f"its novels alone (a run that ends on them leaves it reading English prose, not Python's "
           f"documentation)" if first_run else "")
    shown = "; ".join(f"{name} {value:.3f}" for name, value in figures.items())
    return (f"The built-in English model: a {model['layers']}×{model['hidden_size']} LSTM over "
            f"{model['vocab_size']:,} BPE pieces (SentencePiece with byte fallback, so every UTF-8 text encodes), "
            f"trained by `make base` on {SOURCES}. It saw {seen:,} tokens in {hours:.1f} h on {cpu} "
            f"({run['precision']}){how}; weights stored in bf16. Bits per character on held-out text it never saw "
            f"(the last 10% of each development corpus): {shown}.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trained", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "lstmtext" / "builtin" / "english.lstm")
    parser.add_argument("--first-run", type=Path, help="the model that TRAINED continued, for the card")
    parser.add_argument("--cpu", default=this_cpu(), help="the machine it trained on, for the card")
    arguments = parser.parse_args()
    trained = read_model(arguments.trained)
    rounded = {name: tensor.to(torch.bfloat16) for name, tensor in trained.network.weights_for_saving().items()}
    arguments.out.parent.mkdir(parents=True, exist_ok=True)
    save_bundle(arguments.out, Bundle(rounded, trained.header.to_dict(), trained.tokenizer.blobs()))
    with tempfile.TemporaryDirectory() as folder:
        compared = {name: {"fp32": lstmtext.load(arguments.trained).evaluate(tail).bits_per_char,
                           "bf16": lstmtext.load(arguments.out).evaluate(tail).bits_per_char}
                    for name, tail in held_out_tails(Path(folder)).items()}
    figures = {name: both["bf16"] for name, both in compared.items()}
    first_run = read_model(arguments.first_run).header.to_dict() if arguments.first_run else None
    written = trained.header.to_dict()
    header = {**written, "card": card(written, figures, arguments.cpu, first_run)}
    header["metrics"] = {**header["metrics"], "development_held_out": compared}
    save_bundle(arguments.out, Bundle(rounded, header, trained.tokenizer.blobs()))
    size = arguments.out.stat().st_size
    print(json.dumps({"out": str(arguments.out), "bytes": size, "held_out_bits_per_char": compared}, indent=2))
    if size > MOST_BYTES:
        raise SystemExit(f"error: {arguments.out} is {size:,} bytes, over {MOST_BYTES:,}")


if __name__ == "__main__":
    main()
