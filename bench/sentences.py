"""What the latency benchmarks type: whole sentences keystroke by keystroke, and prompts to complete."""

TYPED = [
    "When there is fire, there is smoke.",
    "The panda that we watched for a whole afternoon was born in China.",
    "Slow and steady wins the race, and the early bird catches the worm.",
    "A friend in need is a friend indeed.",
]
PROMPTS = ["When there is fi", "The panda", "A friend in need", "Slow and steady", "The early bird catches"]
