"""The long-range experiment: its sequences, that a network learns them, determinism, and the command."""

import importlib.util
import json

import pytest
import torch

from lstmtext.core.config import ModelConfig
from lstmtext.core.model import RecurrentLM, open_gates
from lstmtext.lab.experiment import CUE, PAIRS, VOCABULARY, _training_gaps, make_sequences, render, run_long_range
from lstmtext.options import LongRangeConfig

from .conftest import assert_one_line_error


def test_sequences_name_one_subject_exactly_gap_words_before_the_cue():
    gaps = torch.tensor([1, 5, 30, 30])
    tokens, answers = make_sequences(gaps, 32, torch.Generator().manual_seed(0))
    assert tokens.shape == (4, 32)
    subjects = [VOCABULARY.index(s) for s, _ in PAIRS]
    for row, gap, answer in zip(tokens.tolist(), gaps.tolist(), answers.tolist()):
        assert row[-1] == VOCABULARY.index(CUE)
        where = [i for i, t in enumerate(row) if t in subjects]
        assert where == [32 - 2 - gap]  # one subject, gap fillers between it and the cue
        assert dict(PAIRS)[VOCABULARY[row[where[0]]]] == VOCABULARY[answer]
    assert render(tokens[0]).endswith(" so")


def test_an_lstm_learns_a_short_gap_and_the_run_repeats_with_its_seed():
    config = LongRangeConfig(gaps=(2, 4), cells=("lstm",), hidden_size=16, steps=250, test_sequences=200, lr=1e-2,
                             curriculum=True)
    steps_seen = []
    first = run_long_range(config, lambda cell, step: steps_seen.append((cell, step)))
    assert steps_seen[-1] == ("lstm", 250) and len(steps_seen) == 250
    assert first.accuracy["lstm"][2] > 0.6 > first.chance  # learned, far above 1 in 8
    assert run_long_range(config).accuracy == first.accuracy


def test_the_command_prints_accuracy_per_cell_and_gap(run, tmp_path):
    result = run("experiment", "long-range", "--steps", "5", "--gaps", "2,3", "--hidden", "8", "--cells",
                 "lstm,rnn", "--json", "--plot", tmp_path / "plot.png")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert set(shown["accuracy"]) == {"lstm", "rnn"} and shown["gaps"] == [2, 3]
    assert all(0 <= a <= 1 for by_gap in shown["accuracy"].values() for a in by_gap.values())
    assert shown["chance"] == 1 / len(PAIRS)
    if importlib.util.find_spec("matplotlib"):
        assert (tmp_path / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        assert "matplotlib is not installed" in result.stderr and not (tmp_path / "plot.png").exists()

    plain = run("experiment", "long-range", "--steps", "2", "--gaps", "2", "--hidden", "4", "--cells", "gru",
                "--no-plot")
    assert plain.stdout.splitlines() == ["gap\tgru", plain.stdout.splitlines()[1]]
    assert plain.stdout.splitlines()[1].startswith("2\t")


@pytest.mark.parametrize("args, words", [
    (["--gaps", "ten"], ["--gaps 'ten'", "10,50,200"]),
    (["--gaps", "0,5"], ["at least 1"]),
    (["--cells", "lstm,transformer"], ["unknown --cells 'transformer'"]),
    (["--steps", "0"], ["--steps 0"]),
])
def test_bad_experiment_options_fail_with_one_line(run, args, words):
    assert_one_line_error(run("experiment", "long-range", "--no-plot", *args), 2, *words)


def test_without_a_curriculum_every_training_gap_is_the_longest_and_with_one_short_gaps_come_often():
    generator = torch.Generator().manual_seed(0)
    fixed = _training_gaps(1000, LongRangeConfig(gaps=(10, 100)), generator)
    assert set(fixed.tolist()) == {100}
    drawn = _training_gaps(1000, LongRangeConfig(gaps=(10, 100), curriculum=True), generator)
    assert drawn.min() >= 1 and drawn.max() <= 100 and (drawn <= 10).float().mean() > 0.4


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_gated_cells_start_with_their_memory_open_and_a_plain_rnn_is_left_as_it_is(cell):
    model = RecurrentLM(ModelConfig(vocab_size=10, cell=cell, layers=1, hidden_size=8, embed_size=8))
    before = {name: weight.clone() for name, weight in model.state_dict().items()}
    open_gates(model, 100, torch.Generator().manual_seed(0))
    after = model.state_dict()
    if cell == "rnn":
        assert all(torch.equal(before[name], after[name]) for name in before)
        return
    keep = after["rnn.bias_ih_l0"][8:16]  # the LSTM's forget gate, the GRU's update gate
    assert (keep >= 0).all() and (keep <= torch.log(torch.tensor(100.0))).all() and keep.std() > 0
    assert (after["rnn.bias_hh_l0"][8:16] == 0).all()
    if cell == "lstm":
        assert torch.equal(after["rnn.bias_ih_l0"][:8], -keep)  # the input gate as much closed
