"""Writes data/corpus.txt, the demo corpus: the hand-written sayings in sayings.txt plus sentences
built from the small templates below, in which the ending depends on something said much earlier
(the animal decides the country, the fire the smoke, the errand the place). Deterministic: run it again and
the file comes out the same.  Usage: python data/make_corpus.py
"""

import random
from pathlib import Path

HERE = Path(__file__).parent
HOMES = {
    "panda": "China", "kangaroo": "Australia", "penguin": "Antarctica", "camel": "the desert",
    "polar bear": "the Arctic", "llama": "Peru", "tiger": "India", "lemur": "Madagascar",
    "moose": "Canada", "kiwi": "New Zealand", "jaguar": "Brazil", "reindeer": "Lapland",
}
FILLERS = [
    "that the keeper found near the old bamboo grove",
    "that we watched for a whole afternoon",
    "that slept in the shade while the children shouted",
    "that the painter drew in her little notebook",
    "that ate quietly as the rain came down",
    "that the old guide pointed out to the visitors",
    "that came to the fence when the bell rang",
    "that my grandmother told stories about",
    "that nobody in the village had ever seen before",
    "that walked slowly past the fountain and the gate",
]
MIDDLES = [
    "after a long and quiet winter",
    "on a bright morning in early spring",
    "when the whole town was asleep",
    "in the week of the great storm",
    "long before the bridge was built",
    "while the market filled with noise",
]
PLACES = ["in the old mill", "in the kitchen", "on the hill", "behind the barn", "in the forest",
          "by the river", "in the village square", "under the bridge", "at the edge of the field"]
TIMES = ["at night", "in the morning", "after the harvest", "in the cold months", "on a windy day"]
PEOPLE = ["Mara", "Tomas", "Ines", "Oskar", "Lena", "Ravi", "Noor", "Felix"]
THINGS = ["a lamp", "a book", "a basket of apples", "a red kite", "an old map", "a silver key"]


def animal_sentence(rng: random.Random) -> str:
    animal = rng.choice(list(HOMES))
    if rng.random() < 0.5:
        return f"The {animal} {rng.choice(FILLERS)}, {rng.choice(MIDDLES)}, was born in {HOMES[animal]}."
    return f"The {animal} {rng.choice(FILLERS)} comes from {HOMES[animal]}."


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


def main() -> None:
    rng = random.Random(2026)
    sayings = (HERE / "sayings.txt").read_text(encoding="utf-8").splitlines()
    makers = [animal_sentence, fire_sentence, errand_sentence]
    lines = sayings * 2 + [rng.choice(makers)(rng) for _ in range(330)]
    rng.shuffle(lines)
    paragraphs = [" ".join(lines[i:i + rng.randint(1, 4)]) for i in range(0, len(lines), 4)]
    (HERE / "corpus.txt").write_text("\n".join(paragraphs) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
