"""The README's tour runs as shown: every `$ lstmtext ...` line of its output blocks, in order, with the built-in
model in place and a fresh model store (its `train` makes the model the later lines use)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def shown_commands(text: str) -> list[list[str]]:
    """The `$ lstmtext ...` lines inside the README's fenced blocks, as argument lists (without `lstmtext`)."""
    commands, fenced = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif fenced and line.startswith("$ lstmtext "):
            commands.append(shlex.split(line[2:])[1:])
    return commands


def test_the_readme_shows_a_tour_of_commands():
    commands = shown_commands(README.read_text(encoding="utf-8"))
    assert {command[0] for command in commands} >= {"complete", "train", "generate", "eval", "repl", "inspect"}


def test_the_readme_is_short():
    assert README.read_text(encoding="utf-8").count("\n") <= 250


@pytest.mark.skipif(not (ROOT / "lstmtext" / "builtin" / "english.lstm").is_file(), reason="no built-in model")
def test_every_command_in_the_readme_runs_as_shown(run, builtin, monkeypatch):
    monkeypatch.chdir(ROOT)  # the README's paths are the repository's
    for command in shown_commands(README.read_text(encoding="utf-8")):
        result = run(*command, input="" if command[0] == "repl" else None)
        assert result.exit_code == 0, f"lstmtext {shlex.join(command)}: {result.output}"
        assert result.stdout.strip() or command[0] in ("train", "repl"), shlex.join(command)


def test_the_readme_links_to_pages_that_exist():
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", README.read_text(encoding="utf-8")):
        assert (ROOT / target).exists(), target
