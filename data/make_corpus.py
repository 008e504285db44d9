"""Writes data/corpus.txt, the demo corpus: the hand-written sayings in sayings.txt plus sentences built from the
templates below, in which the ending depends on something said much earlier: the animal (and its bird) decides the
country, as in the seed's "Peacock is the national bird of India whereas the panda and red-crowned crane are the
national animal and bird of China"; the fire decides the smoke; the errand the place.

Between the animal and its country come 30 to 150 characters of filler, drawn from many phrases that say nothing
about the animal. Some animal-and-filler combinations are held out: they never occur in the corpus, and the demo
(data/demo.py) asks about them, so a right answer shows memory of the animal, not recall of a line.

Deterministic: run it again and the file comes out the same.  Usage: python data/make_corpus.py
"""

from __future__ import annotations

import random
from pathlib import Path

HERE = Path(__file__).parent
HOMES = {
    "panda": "China", "kangaroo": "Australia", "penguin": "Antarctica", "camel": "the desert",
    "polar bear": "the Arctic", "llama": "Peru", "tiger": "India", "lemur": "Madagascar",
    "moose": "Canada", "kiwi": "New Zealand", "jaguar": "Brazil", "reindeer": "Lapland",
}
# The seed's sentence shape, for the animals whose home is a country with a national bird.
BIRDS = {"China": "red-crowned crane", "India": "peacock", "Australia": "emu", "Peru": "condor",
         "Canada": "loon", "Brazil": "thrush"}
FILLERS = [
    "that the keeper found near the old gate",
    "that we watched for a whole afternoon",
    "that slept in the shade while the children shouted",
    "that the painter drew in her little notebook",
    "that ate quietly as the rain came down",
    "that the old guide pointed out to the visitors",
    "that came to the fence when the bell rang",
    "that my grandmother told stories about",
    "that nobody in the village had ever seen before",
    "that walked slowly past the fountain and the gate",
    "that the children named after their teacher",
    "that stood very still in the morning light",
    "that the photographer waited three days to see",
    "that lay on a warm stone by the water",
    "that the sailors talked about all the way home",
    "that looked at us with calm and patient eyes",
    "that the schoolchildren drew on the classroom wall",
    "that was carried here in a wooden crate",
    "that the farmer saw once and never forgot",
    "that splashed in the pond until it was dark",
]
MIDDLES = [
    "after a long and quiet winter",
    "on a bright morning in early spring",
    "when the whole town was asleep",
    "in the week of the great storm",
    "long before the bridge was built",
    "while the market filled with noise",
    "in a year of little rain",
    "on the day the old clock stopped",
    "as the first snow fell on the roofs",
    "not far from where the road ends",
]
PLACES = ["in the old mill", "in the kitchen", "on the hill", "behind the barn", "in the forest",
          "by the river", "in the village square", "under the bridge", "at the edge of the field"]
TIMES = ["at night", "in the morning", "after the harvest", "in the cold months", "on a windy day"]
PEOPLE = ["Mara", "Tomas", "Ines", "Oskar", "Lena", "Ravi", "Noor", "Felix"]
THINGS = ["a lamp", "a book", "a basket of apples", "a red kite", "an old map", "a silver key"]
HELD_OUT_EVERY = 5  # one animal-and-filler combination in five never occurs in the corpus
SENTENCES = 1400


def held_out(animal: str, filler: str) -> bool:
    """Whether this animal never appears with this filler in the corpus (a fixed fifth of the combinations, a
    different fifth for each animal)."""
    return (list(HOMES).index(animal) + FILLERS.index(filler)) % HELD_OUT_EVERY == 0


def seen_fillers(animal: str) -> list[str]:
    return [filler for filler in FILLERS if not held_out(animal, filler)]


def animal_sentence(rng: random.Random) -> str:
    animal = rng.choice(list(HOMES))
    home, filler, middle = HOMES[animal], rng.choice(seen_fillers(animal)), rng.choice(MIDDLES)
    forms = [
        f"The {animal} {filler}, {middle}, was born in {home}.",
        f"The {animal} {filler} comes from {home}.",
        f"The {animal} comes from {home}.",
    ]
    if home in BIRDS:
        other = rng.choice([country for country in BIRDS if country != home])
        forms.append(f"The {BIRDS[other]} is the national bird of {other}, whereas the {animal} and the "
                     f"{BIRDS[home]} are the national animal and bird of {home}.")
    return rng.choices(forms, weights=[5, 3, 1, 2][:len(forms)])[0]


def fire_sentence(rng: random.Random) -> str:
    place, time = rng.choice(PLACES), rng.choice(TIMES)
    forms = [
        "When there is fire, there is smoke.",
        "When there is fire, there is smoke.",
        f"When there is fire, there is smoke {place} {time}.",
        f"When there is fire, there is smoke, and when there is smoke {place}, someone runs for water.",
        f"If you see smoke {place} {time}, there is fire somewhere near.",
    ]
    return rng.choice(forms)


def errand_sentence(rng: random.Random) -> str:
    person, thing, place = rng.choice(PEOPLE), rng.choice(THINGS), rng.choice(PLACES)
    other = rng.choice([p for p in PEOPLE if p != person])
    return (f"{person} left {thing} {place} {rng.choice(TIMES)}, and when {other} asked where it was, "
            f"{person} said that {thing} was still {place}.")


def corpus_text() -> str:
    rng = random.Random(2026)
    sayings = (HERE / "sayings.txt").read_text(encoding="utf-8").splitlines()
    makers = [animal_sentence] * 8 + [fire_sentence, errand_sentence]
    lines = sayings + [rng.choice(makers)(rng) for _ in range(SENTENCES)]
    rng.shuffle(lines)
    paragraphs = []
    while lines:
        size = rng.randint(1, 4)
        paragraphs.append(" ".join(lines[:size]))
        lines = lines[size:]
    return "\n".join(paragraphs) + "\n"


def held_out_prompts() -> list[tuple[str, str, str]]:
    """Long-gap prompts the corpus never holds, for the demo: (prompt, the deciding animal, its home). Each
    puts a held-out filler and a middle phrase between the animal and "was born in"."""
    chosen = [("panda", 2), ("kangaroo", 7), ("tiger", 4), ("llama", 9)]
    prompts = []
    for animal, middle in chosen:
        filler = next(f for f in reversed(FILLERS) if held_out(animal, f))
        prompts.append((f"The {animal} {filler}, {MIDDLES[middle]}, was born in", animal, HOMES[animal]))
    return prompts


def main() -> None:
    (HERE / "corpus.txt").write_text(corpus_text(), encoding="utf-8")


if __name__ == "__main__":
    main()
