"""The end of `make demo`: completes "When there is fire" and long-gap prompts the corpus never holds (see
make_corpus.held_out_prompts), and shows where the right country ranks and how far back the deciding word was.

Usage: python data/demo.py [MODEL]   (default: the default model)
"""

from __future__ import annotations

import sys
from pathlib import Path

import lstmtext

sys.path.insert(0, str(Path(__file__).parent))
from make_corpus import held_out_prompts  # noqa: E402  (beside this file)

CANDIDATES = 5


def show_fire(model: lstmtext.LanguageModel) -> None:
    best = model.complete("When there is fire", n=1)[0]
    print(f"When there is fire{best.text}   ({best.probability:.0%})")


def show_long_gap(model: lstmtext.LanguageModel, prompt: str, animal: str, home: str) -> bool:
    """One held-out prompt: the most likely next words, the right one marked; True when it ranks first."""
    ranked = model.complete(prompt, n=CANDIDATES, until="word", beam_width=4 * CANDIDATES)
    words = [completion.text.strip() for completion in ranked]
    first_word = home.split()[-1]
    right = first_word in words[:1] or (home.startswith("the ") and words[:1] == ["the"])
    shown = ", ".join(f"{word} {completion.probability:.0%}" for word, completion in zip(words, ranked))
    back = len(prompt) - len(f"The {animal}")
    print(f"{prompt} …")
    print(f"   {'✓' if right else '✗'} {shown}   ('{animal}' was {back} characters back; the answer is {home})")
    return right


def main() -> int:
    model = lstmtext.load(sys.argv[1] if len(sys.argv) > 1 else None)
    show_fire(model)
    prompts = held_out_prompts()
    right = sum(show_long_gap(model, prompt, animal, home) for prompt, animal, home in prompts)
    print(f"{right} of {len(prompts)} held-out long-gap prompts ranked the right country first")
    return 0


if __name__ == "__main__":
    sys.exit(main())
