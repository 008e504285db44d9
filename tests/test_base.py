"""The built-in model: found without a model of the user's, listed, never overwritten; `train` starting from it
where it measures better (and saying why), from scratch where not; folders as corpora."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

import lstmtext
from lstmtext.core import store as store_module
from lstmtext.core.store import ModelStore
from lstmtext.options import TokenizerConfig, TrainConfig
from lstmtext.training import start as start_module
from lstmtext.training.start import compressed_bits_per_char

from .conftest import CLI_TINY, PACKAGE_BUILTIN, TINY_TRAINING, assert_one_line_error

FAST = ["--max-steps", "3", "--seq-len", "16", "--batch-size", "2"]


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory: pytest.TempPathFactory, corpus_text: str) -> Path:
    """A small bpe model of the demo corpus, standing in for the built-in model (the real one is 3×512)."""
    folder = tmp_path_factory.mktemp("tiny-base")
    corpus = folder / "english.txt"
    corpus.write_text(corpus_text[:40_000], encoding="utf-8")
    lstmtext.train(corpus, tokenizer=TokenizerConfig("bpe", 600), base="none",
                   training=TrainConfig(**{**TINY_TRAINING, "max_steps": 60}), layers=1, hidden_size=32,
                   out=folder / "english.lstm", store=ModelStore(root=folder))
    return folder / "english.lstm"


@pytest.fixture()
def with_base(tiny_base: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(store_module, "BUILTIN_PATH", tiny_base)
    return tiny_base


def start_line(output: str) -> str:
    return next(line for line in output.splitlines() if line.startswith(("fine-tuning", "training from scratch")))


def test_with_no_model_of_ones_own_the_built_in_model_answers_and_is_listed_as_built_in(run, with_base):
    completed = run("complete", "The panda", "-n", "2", "--max-tokens", "3")
    assert completed.exit_code == 0, completed.output
    assert len(completed.stdout.strip().splitlines()) == 2
    listed = run("models")
    assert "english (built in)" in listed.stdout and "*" in listed.stdout
    assert run("info", "--model", "english").exit_code == 0
    assert run("generate", "--length", "10", "--seed", "1").exit_code == 0


def test_the_built_in_model_cannot_be_overwritten(run, with_base, tiny_corpus):
    assert_one_line_error(run("train", tiny_corpus, "--name", "english", *CLI_TINY), 2, "built-in")
    assert_one_line_error(run("train", tiny_corpus, "--out", with_base, *CLI_TINY), 2, "built-in")
    assert_one_line_error(run("adapt", "english", tiny_corpus, "--name", "english"), 2, "built-in")


def test_a_model_of_ones_own_becomes_the_default_and_english_still_reaches_the_built_in_one(run, with_base,
                                                                                         tiny_corpus):
    store = ModelStore()
    assert run("train", tiny_corpus, "--name", "mine", *CLI_TINY).exit_code == 0
    assert store.resolve() == store.path_for("mine")
    assert store.resolve("english") == with_base
    assert run("models", "--default", "english").exit_code == 0
    assert store.resolve() == with_base


def test_the_base_is_fine_tuned_when_it_reads_the_held_out_end_better_than_the_compressor(
        run, with_base, tiny_corpus, monkeypatch):
    for measured, chosen in (((1.5, 2.5), "fine-tuning the built-in model 'english'"),
                             ((2.5, 1.5), "training from scratch")):
        monkeypatch.setattr(start_module, "_measure", lambda *arguments, figures=measured: figures)
        result = run("train", tiny_corpus, *FAST)
        assert result.exit_code == 0, result.output
        line = start_line(result.stderr)
        assert line.startswith(chosen) and f"needs {measured[0]:.2f} bits/char" in line, line
        header = json.loads(run("info", "--json").stdout)
        assert header["base"]["reason"] in line
        assert (header["base"]["name"] == "english") == chosen.startswith("fine-tuning")
        assert header["tokenizer"]["level"] == ("bpe" if chosen.startswith("fine-tuning") else "char")


@pytest.mark.skipif(not PACKAGE_BUILTIN.is_file(), reason="no built-in model in this checkout")
def test_english_prose_fine_tunes_the_real_built_in_model(run, builtin, tmp_path):
    corpus = tmp_path / "prose.txt"
    corpus.write_text(documentation_prose()[:10_000], encoding="utf-8")
    result = run("train", corpus, *FAST)
    assert result.exit_code == 0, result.output
    assert start_line(result.stderr).startswith("fine-tuning the built-in model 'english'")


def documentation_prose() -> str:
    """The paragraphs of the README and docs/, without their code blocks, tables and headings: English prose
    (technical, so its first pages only: a compressor reads the repeated terms of the whole too well)."""
    root = Path(__file__).parent.parent
    lines, fenced = [], False
    for page in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        for line in page.read_text(encoding="utf-8").splitlines():
            fenced = fenced != line.startswith("```")
            if not fenced and line.strip() and not line.startswith(("|", "#", "```")):
                lines.append(line)
    return "\n".join(lines) + "\n"


def python_code() -> str:
    source = Path(lstmtext.__file__).parent
    return "".join(path.read_text(encoding="utf-8") for path in sorted(source.rglob("*.py")))[:60_000]


def german() -> str:
    rng = random.Random(1)
    words = ("der die das und ist nicht ein eine Haus Hund Katze über schön groß klein wir ihr sie Straße "
             "Mädchen läuft schnell gestern morgen Brot Wasser trinken essen").split()
    return "\n".join(" ".join(rng.choice(words) for _ in range(rng.randint(4, 12))).capitalize() + "."
                     for _ in range(1500)) + "\n"


def random_tokens() -> str:
    rng = random.Random(2)
    return " ".join("".join(rng.choice("qxzj0123456789#%&") for _ in range(rng.randint(1, 7)))
                    for _ in range(8000)) + "\n"


@pytest.mark.parametrize("kind", ["python code", "german", "random tokens"])
def test_text_unlike_the_base_trains_and_the_log_says_which_start_and_why(run, with_base, tmp_path, kind):
    text = {"python code": python_code, "german": german, "random tokens": random_tokens}[kind]()
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(text, encoding="utf-8")
    result = run("train", corpus, *FAST)
    assert result.exit_code == 0, result.output
    line = start_line(result.stderr)
    assert "the built-in model, learning as it reads, needs" in line and "a compressor" in line, line
    if kind == "random tokens":  # no English in it: the base knows nothing a compressor does not learn
        assert line.startswith("training from scratch"), line
        assert json.loads(run("info", "--json").stdout)["tokenizer"]["level"] == "char"


def test_base_none_and_an_explicit_level_or_shape_train_from_scratch(run, with_base, tiny_corpus):
    none = run("train", tiny_corpus, "--base", "none", *FAST)
    assert none.exit_code == 0 and "as asked (--base none)" in start_line(none.stderr)
    char = run("train", tiny_corpus, "--level", "char", *FAST)
    assert char.exit_code == 0 and "--level char asks for a tokenizer of its own" in start_line(char.stderr)
    shaped = run("train", tiny_corpus, "--hidden", "16", *FAST)
    assert shaped.exit_code == 0 and "--hidden 16 asks for another shape" in start_line(shaped.stderr)


def test_base_model_and_its_alias_init_from_fine_tune_that_model(run, tiny_corpus, tiny_base):
    for option in ("--base", "--init-from"):
        result = run("train", tiny_corpus, option, tiny_base, "--name", "tuned", *FAST)
        assert result.exit_code == 0, result.output
        assert start_line(result.stderr).startswith(f"fine-tuning {tiny_base}, as asked")
    assert_one_line_error(run("train", tiny_corpus, "--base", "none", "--init-from", tiny_base, *FAST), 2)
    assert_one_line_error(run("train", tiny_corpus, "--base", "nosuchmodel", *FAST), 2, "nosuchmodel")


def test_the_compressor_figure_rewards_text_like_its_context():
    context = "the cat sat on the mat. " * 200
    assert compressed_bits_per_char(context, "the cat sat on the mat. " * 4) < 0.5
    assert compressed_bits_per_char(context, "zq7#xw19&pl0 vv3k!m") > 4


def test_a_folder_trains_on_every_text_file_in_the_order_of_their_paths(run, tmp_path, corpus_text):
    folder = tmp_path / "notes"
    (folder / "b").mkdir(parents=True)
    (folder / "a.txt").write_text(corpus_text[:3000], encoding="utf-8")
    (folder / "b" / "c.md").write_text(corpus_text[3000:6000], encoding="utf-8")
    (folder / ".hidden.txt").write_text("secret\n", encoding="utf-8")
    (folder / "picture.png").write_bytes(b"\x89PNG\x00\x01\x02")
    result = run("train", folder, *CLI_TINY)
    assert result.exit_code == 0, result.output
    header = json.loads(run("info", "--model", "notes", "--json").stdout)
    assert header["corpus"]["name"] == "notes.txt"
    assert header["corpus"]["chars"] == 6000 + 2 * 2  # each file ends its last line, and a blank line follows
    assert_one_line_error(run("train", tmp_path / "empty-folder-that-is-missing", *CLI_TINY), 2)
    (tmp_path / "empty").mkdir()
    assert_one_line_error(run("train", tmp_path / "empty", *CLI_TINY), 2, "no text files")


@pytest.mark.skipif(not PACKAGE_BUILTIN.is_file(), reason="no built-in model in this checkout")
def test_the_real_built_in_model_completes_the_design_cards_prompt(run, builtin):
    result = run("complete", "When there is fire", "-n", "3", "--json")
    assert result.exit_code == 0, result.output
    completions = json.loads(result.stdout)["completions"]
    assert len(completions) == 3 and all(0 < c["probability"] <= 1 for c in completions)
    assert all(c["text"].strip() for c in completions)
    assert PACKAGE_BUILTIN.stat().st_size <= 25_000_000


def test_fine_tuning_rates_slow_each_lower_layer_and_cover_every_weight_once():
    from lstmtext.core.config import ModelConfig
    from lstmtext.core.model import RecurrentLM
    from lstmtext.training.schedule import layer_groups

    model = RecurrentLM(ModelConfig(vocab_size=50, layers=3, hidden_size=8, embed_size=8))
    groups = layer_groups(model, 2.0)
    scale_of = {id(p): group["lr_scale"] for group in groups for p in group["params"]}
    assert sum(len(group["params"]) for group in groups) == len(scale_of) == len(list(model.parameters()))
    assert scale_of[id(model.embedding.weight)] == 1.0  # tied to the decoder: the top group
    assert [scale_of[id(getattr(model.rnn, f"weight_hh_l{layer}"))] for layer in range(3)] == [0.125, 0.25, 0.5]
