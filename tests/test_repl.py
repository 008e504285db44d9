"""The REPL driven as a user would drive it: keys sent through prompt_toolkit's pipe input to the real
prompt session, running in its own thread while the test watches the line being edited."""

import asyncio
import io
import threading
import time

import pytest
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from rich.console import Console

from lstmtext.cli.repl import Repl, Settings, parse_setting
from lstmtext.cli.terminal import TerminalReader

TAB, ENTER, ALT_RIGHT = "\t", "\r", "\x1b[1;3C"


def wait_for(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


class Session:
    """A REPL on a pipe: `type` sends keys, `buffer` is the line being edited, `output` what was printed."""

    def __init__(self, repl: Repl, pipe, history) -> None:
        self.repl, self.pipe = repl, pipe
        self.reader = TerminalReader(repl.suggest, history, input=pipe, output=DummyOutput())
        self.exit_codes: list[int] = []
        self.thread = threading.Thread(target=lambda: self.exit_codes.append(repl.run(self.reader)), daemon=True)
        self.thread.start()

    @property
    def buffer(self):
        return self.reader.session.default_buffer

    def ghost_text(self) -> str:
        suggestion = self.buffer.suggestion
        return suggestion.text if suggestion else ""

    def type(self, keys: str) -> None:
        self.pipe.send_text(keys)

    def output(self) -> str:
        return self.repl.console.file.getvalue()


@pytest.fixture()
def session(lord_models, tmp_path):
    model = lord_models["char"]
    repl = Repl(model, Console(file=io.StringIO(), width=120), load_model=lambda name: lord_models[name])
    with create_pipe_input() as pipe:
        yield Session(repl, pipe, tmp_path / "history")


def test_typing_shows_ghost_text_and_tab_accepts_it(session):
    session.type("Yes, my lo")
    wait_for(lambda: session.buffer.text == "Yes, my lo" and session.ghost_text())
    ghost = session.ghost_text()
    assert ghost.startswith("rd") and ghost == session.repl.model.suggest("Yes, my lo")
    session.type(TAB)
    wait_for(lambda: session.buffer.text == "Yes, my lo" + ghost)
    session.type(ENTER)  # the ranked completions of the accepted line
    wait_for(lambda: "probability" in session.output())
    best = session.repl.model.complete("Yes, my lo" + ghost)[0]
    assert best.text.strip() in session.output()
    session.type(":quit" + ENTER)
    session.thread.join(10)
    assert session.exit_codes == [0]


def test_alt_right_accepts_one_word(session):
    session.type("My lord,")
    wait_for(lambda: session.buffer.text == "My lord," and session.ghost_text())
    ghost = session.ghost_text()
    assert len(ghost.split()) > 1
    session.type(ALT_RIGHT)
    wait_for(lambda: session.buffer.text != "My lord,")
    assert session.buffer.text == "My lord," + " " + ghost.split()[0]
    session.type("\x03")  # Ctrl-C clears the line and the loop goes on
    wait_for(lambda: session.buffer.text == "")
    session.type("\x04")  # Ctrl-D leaves
    session.thread.join(10)
    assert session.exit_codes == [0]


def test_choose_mode_appends_the_chosen_piece(session):
    session.type(":mode choose" + ENTER)
    session.type("Yes, my lo" + ENTER)
    wait_for(lambda: len(session.repl.choices) == 3)
    assert session.repl.choices[0].text == "r"
    assert session.ghost_text() == ""  # no ghost text where numbers pick pieces
    session.type("1" + ENTER)
    wait_for(lambda: session.repl.draft == "Yes, my lor")
    wait_for(lambda: session.repl.choices and session.repl.choices[0].text == "d")
    session.type("2" + ENTER)
    expected = "Yes, my lor" + session.repl.choices[1].text
    wait_for(lambda: session.repl.draft == expected)
    session.type(" then" + ENTER)
    wait_for(lambda: session.repl.draft == expected + " then")
    session.type(ENTER)  # an empty line finishes the draft
    wait_for(lambda: session.repl.draft == "")
    assert expected + " then" in session.output()
    session.type(":quit" + ENTER)
    session.thread.join(10)
    assert session.exit_codes == [0]


def test_settings_change_live_and_bad_ones_are_explained(session):
    for command in (":n 2", ":until word", ":temperature 0.5", ":top-k 5", ":mode generate", ":model word",
                    ":n zero", ":mode sideways", ":settings"):
        session.type(command + ENTER)
    wait_for(lambda: "mode=generate" in session.output())
    settings = session.repl.settings
    sampling = settings.generation.sampling
    assert (settings.completion.n, settings.completion.until) == (2, "word")
    assert (sampling.temperature, sampling.top_k) == (0.5, 5)
    assert ":n needs a int" in session.output() and ":mode takes one of complete" in session.output()
    assert "model:" in session.output() and session.repl.model.tokenizer.level == "word"
    session.type("The" + ENTER)  # generate mode streams a sample that starts with the line
    wait_for(lambda: session.output().count("The") >= 1 and session.buffer.text == "")
    session.type(":quit" + ENTER)
    session.thread.join(10)
    assert session.exit_codes == [0]


def test_history_is_kept_in_the_given_file(session, tmp_path):
    session.type(":settings" + ENTER + ":quit" + ENTER)
    session.thread.join(10)
    assert ":settings" in (tmp_path / "history").read_text()


class SlowModel:
    """Suggests "<line>" for each line after a delay, and records what it was asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def suggest(self, text: str) -> str:
        self.asked.append(text)
        time.sleep(0.3)
        return f"<{text}>"


def test_ghost_text_for_a_stale_line_is_dropped(tmp_path):
    model = SlowModel()
    repl = Repl(model, Console(file=io.StringIO()))
    with create_pipe_input() as pipe:
        session = Session(repl, pipe, tmp_path / "history")
        session.type("a")
        wait_for(lambda: model.asked == ["a"])
        session.type("bc")  # typed while the suggestion for "a" is still being computed
        wait_for(lambda: session.ghost_text() == "<abc>")
        assert model.asked[-1] == "abc" and len(model.asked) <= 3  # one at a time, never the stale "<a>"
        session.type("\x04")
        session.thread.join(10)


def test_typing_what_the_ghost_text_shows_keeps_the_rest_without_asking_the_model():
    from prompt_toolkit.document import Document

    from lstmtext.cli.terminal import GhostText

    asked = []
    ghost = GhostText(lambda text: asked.append(text) or " there is smoke")
    assert ghost.get_suggestion(None, Document("When")).text == " there is smoke"
    kept = asyncio.run(ghost.get_suggestion_async(None, Document("When th")))
    assert kept.text == "ere is smoke" and asked == ["When"]
    asyncio.run(ghost.get_suggestion_async(None, Document("When x")))
    assert asked == ["When", "When x"]


@pytest.mark.parametrize("name, value, problem", [("n", "0", ":n 0 must be at least 1"), ("until", "never", "one of"),
                                                  ("bogus", "1", "unknown command"), ("top-p", "x", "float")])
def test_bad_settings_are_refused(name, value, problem):
    with pytest.raises(ValueError, match=problem):
        parse_setting(Settings(), name, value)


NAME_LINES = ("The wizard Zorbulax is here, my lord.", "Yes, my lord. Zorbulax waits at the gate.")


@pytest.mark.parametrize("adapt", ["on", "off"])
def test_a_made_up_name_typed_twice_comes_back_as_ghost_text_only_when_adapting(lord_models, tmp_path, adapt):
    model = lord_models["char"].session()
    repl = Repl(model, Console(file=io.StringIO(), width=120))
    with create_pipe_input() as pipe:
        session = Session(repl, pipe, tmp_path / "history")
        session.type(f":adapt {adapt}{ENTER}")
        for count, line in enumerate(NAME_LINES, start=1):
            session.type(line + ENTER)
            wait_for(lambda: session.output().count("probability") == count)
        model.wait()
        assert model.learned_texts == (2 if adapt == "on" else 0)
        expected = model.suggest("Yes, my lord. Zor")
        session.type("Yes, my lord. Zor")
        wait_for(lambda: session.buffer.text == "Yes, my lord. Zor" and session.ghost_text() == expected)
        assert expected.startswith("bulax") == (adapt == "on")
        session.type(ENTER + ":forget" + ENTER)
        wait_for(lambda: "back to the trained model" in session.output())
        assert not model.suggest("Yes, my lord. Zor").startswith("bulax")
        session.type(":quit" + ENTER)
        session.thread.join(10)
    model.close()
