"""The README's tour runs as shown: every `$ lstmtext ...` line of its output blocks, in order, with the built-in
model in place and a fresh model store (its `train` makes the model the later lines use). The commands in docs/
(which need corpora and minutes of training) are checked against the command line: every one names a command and
options that exist, with values they take."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def shown_commands(text: str) -> list[list[str]]:
    """The commands inside a page's fenced blocks, as argument lists (without `lstmtext`): `$ lstmtext ...` lines,
    and `lstmtext ...` lines of bash blocks; a shell's pipe, redirection or comment after one is not part of it."""
    commands, fence = [], None
    for line in text.splitlines():
        if line.startswith("```"):
            fence = line[3:].strip() if fence is None else None
        elif fence is not None and (line.startswith("$ lstmtext ") or fence == "bash" and line.startswith("lstmtext ")):
            command = re.split(r"\s+(?:\||2>&1|>>?|#)(?:\s|$)", line.removeprefix("$ "))[0]
            commands.append(shlex.split(command)[1:])
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


@pytest.mark.parametrize("page", sorted((ROOT / "docs").glob("*.md")), ids=lambda page: page.name)
def test_every_command_in_the_docs_exists_with_the_options_it_shows(page):
    import click
    import typer.main

    from lstmtext.cli import app

    group = typer.main.get_command(app)
    for command in shown_commands(page.read_text(encoding="utf-8")):
        context = group.make_context("lstmtext", ["--help"] if not command else list(command[:1]),
                                     resilient_parsing=True)
        names = command[:2] if command[0] == "experiment" else command[:1]
        found = group
        for name in names:
            found = found.get_command(context, name)
            assert found is not None, f"{page.name}: lstmtext {shlex.join(command)}: no command {name}"
        try:
            found.make_context(" ".join(names), command[len(names):], parent=context)
        except click.exceptions.Exit:
            pass
        except click.UsageError as error:
            pytest.fail(f"{page.name}: lstmtext {shlex.join(command)}: {error.format_message()}")


def test_the_readme_links_to_pages_that_exist():
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", README.read_text(encoding="utf-8")):
        assert (ROOT / target).exists(), target
