"""The end of `make demo`: completes long-gap prompts the corpus never holds (see make_corpus.held_out_prompts),
and shows where the right country ranks and how far back the deciding word was.

Usage: python data/demo.py [MODEL]   (default: the default model)
"""

from __future__ import annotations

import sys
from pathlib import Path

import lstmtext

sys.path.insert(0, str(Path(__file__).parent))
from make_corpus import held_out_prompts  # noqa: E402  (beside this file)

SHOWN = 5  # words shown
SEARCHED = 12  # words ranked, to say where the right one is


def show_long_gap(model: lstmtext.LanguageModel, prompt: str, animal: str, home: str) -> bool:
    """One held-out prompt: the most likely next words, and where the right one ranks; True when it is first."""
    ranked = model.complete(prompt, n=SEARCHED, until="word", beam_width=4 * SEARCHED)
    words = [completion.text.strip() for completion in ranked]
    answer = home.split()[0]  # "the" for "the Arctic"
    rank = words.index(answer) + 1 if answer in words else None
    shown = ", ".join(f"{word} {completion.probability:.0%}" for word, completion in zip(words, ranked[:SHOWN]))
    where = "" if rank == 1 else (f"; {answer} ranks {rank}, {ranked[rank - 1].probability:.1%}" if rank
                                  else f"; {answer} is not among the {SEARCHED} most likely")
    print(f"{prompt} …")
    back = len(prompt) - len(f"The {animal}")
    print(f"   {'✓' if rank == 1 else '✗'} {shown}   ('{animal}' was {back} characters back; the answer is "
          f"{home}{where})")
    return rank == 1


def main() -> int:
    model = lstmtext.load(sys.argv[1] if len(sys.argv) > 1 else None)
    prompts = held_out_prompts()
    right = sum(show_long_gap(model, prompt, animal, home) for prompt, animal, home in prompts)
    print(f"{right} of {len(prompts)} held-out long-gap prompts ranked the right country first")
    return 0


if __name__ == "__main__":
    sys.exit(main())
