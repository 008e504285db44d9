"""Where the benchmarks find their corpora (../shared/data beside the checkout) and how a corpus is split into
what is learned and what is held out."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
DEFAULT_CORPUS = SHARED_DATA / "tinyshakespeare.txt"


def split_text(text: str) -> tuple[str, str]:
    """nanoGPT's split: the first 90% of the characters to train on, the last 10% held out."""
    cut = int(len(text) * 0.9)
    return text[:cut], text[cut:]
