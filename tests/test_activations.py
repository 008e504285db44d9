"""inspect: gate values from nn.LSTM's own weights, the units it picks, the CLI's views and errors."""

import json

import numpy as np
import pytest
import torch

from lstmtext.core.config import ModelConfig
from lstmtext.core.model import RecurrentLM
from lstmtext.lab.activations import pick_units, trace_lstm

from .conftest import assert_one_line_error

TEXT = 'When there is fire, there is smoke.\n"Yes," she said.'


def test_the_trace_reproduces_nn_lstm_at_every_layer():
    torch.manual_seed(0)
    model = RecurrentLM(ModelConfig(vocab_size=11, layers=3, hidden_size=12, embed_size=8)).eval()
    with torch.no_grad():
        inputs = model.embedding(torch.randint(0, 11, (40,)))
    with torch.no_grad():
        output, (h_n, c_n) = model.rnn(inputs[None])
    layers = trace_lstm(model.rnn, inputs)
    assert len(layers) == 3
    np.testing.assert_allclose(layers[-1]["hidden"], output[0].numpy(), atol=1e-5)
    for layer, trace in enumerate(layers):
        np.testing.assert_allclose(trace["hidden"][-1], h_n[layer, 0].numpy(), atol=1e-5)
        np.testing.assert_allclose(trace["cell"][-1], c_n[layer, 0].numpy(), atol=1e-5)
        for gate in ("input", "forget", "output"):
            assert trace[gate].min() >= 0 and trace[gate].max() <= 1
        # the update the seed describes: c' = f * c + i * g, h' = o * tanh(c')
        previous = np.vstack([np.zeros((1, 12)), trace["cell"][:-1]])
        np.testing.assert_allclose(trace["cell"], trace["forget"] * previous + trace["input"] * trace["candidate"],
                                   atol=1e-5)


def test_units_that_follow_a_feature_are_picked_and_named():
    pieces = list("ab cd\nefg hi\njk")
    position = np.array([1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5, 6, 0, 1, 2], dtype=float)
    rng = np.random.default_rng(0)
    values = rng.normal(0, 0.05, (len(pieces), 6))
    values[:, 4] = position / 6
    values[:, 1] = rng.normal(0, 1.0, len(pieces))  # the noisiest unit
    units = pick_units(values, pieces, 2)
    assert units[0].index == 4 and "position in line" in units[0].why and "+1.00" in units[0].why
    assert units[1].index == 1 and "varies most" in units[1].why


@pytest.fixture(scope="module")
def two_layer_model(tmp_path_factory, tiny_corpus):
    import lstmtext
    from lstmtext.core.store import ModelStore
    from lstmtext.options import TokenizerConfig, TrainConfig

    home = tmp_path_factory.mktemp("inspect")
    lstmtext.train(tiny_corpus, tokenizer=TokenizerConfig("char"), layers=2, hidden_size=24,
                   training=TrainConfig(seq_len=16, batch_size=4, max_steps=20, seed=2), out=home / "two.lstm",
                   store=ModelStore(root=home))
    return home / "two.lstm"


def test_json_gates_lie_in_0_1_and_hidden_values_are_nn_lstms(run, two_layer_model):
    import lstmtext

    result = run("inspect", TEXT, "--show", "forget", "--json", "--model", two_layer_model)
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert "".join(shown["tokens"]) == TEXT and len(shown["values"]) == len(TEXT)
    assert shown["layer"] == 2 and len(shown["units"]) == 3 and len(shown["why"]) == 3
    assert all(0 <= v <= 1 for row in shown["values"] for v in row)

    result = run("inspect", TEXT, "--show", "hidden", "--layer", "2", "--unit", "5", "--unit", "0", "--json",
                 "--model", two_layer_model)
    shown = json.loads(result.stdout)
    assert shown["units"] == [5, 0]
    lm = lstmtext.load(two_layer_model)
    ids = lm.tokenizer.encode("\n") + lm.tokenizer.encode(TEXT)  # the line start the model reads first
    with torch.no_grad():
        output, _ = lm.model.rnn(lm.model.embedding(torch.tensor([ids])))
    expected = output[0, 1:][:, [5, 0]].numpy()
    np.testing.assert_allclose(np.array(shown["values"]), expected, atol=1e-5)


def test_terminal_view_is_coloured_and_the_pipe_gets_tab_separated_values(run, two_layer_model, tmp_path):
    from rich.console import Console

    import lstmtext
    from lstmtext.cli.heatmap import inspection_lines, inspection_view

    inspection = lstmtext.load(two_layer_model).inspect("fire and smoke", show="input", layer=1, count=2)
    console = Console(record=True, width=80, color_system="truecolor", force_terminal=True)
    console.print(inspection_view(inspection))
    coloured = console.export_text(styles=True)
    assert "layer 1, unit" in coloured and "input gate" in coloured and "\x1b[" in coloured and "48;2;" in coloured
    lines = inspection_lines(inspection).splitlines()
    assert len(lines) == 1 + len("fire and smoke") and lines[1].split("\t")[0] == "f"

    page = tmp_path / "view.html"
    result = run("inspect", "fire and smoke", "--html", page, "--model", two_layer_model)
    assert result.exit_code == 0, result.output
    assert "background-color" in page.read_text() and "input gate" not in page.read_text()
    assert "forget gate" in page.read_text()
    assert result.stdout.splitlines()[0].startswith("token\tunit ")  # CliRunner is a pipe
    assert "layer 2, unit" in result.stderr and "layer 2, unit" not in result.stdout  # why, kept off the data


@pytest.mark.parametrize("args, words", [
    (["--show", "memory"], ["unknown --show", "forget"]),
    (["--layer", "3"], ["--layer 3", "1 to 2"]),
    (["--layer", "0"], ["--layer 0"]),
    (["--unit", "24"], ["--unit 24", "0 to 23"]),
    (["--units", "0"], ["--units 0"]),
])
def test_bad_inspect_options_fail_with_one_line(run, two_layer_model, args, words):
    assert_one_line_error(run("inspect", "fire", *args, "--model", two_layer_model), 2, *words)


def test_empty_text_and_a_gru_model_fail_with_one_line(run, two_layer_model, tiny_corpus, tmp_path):
    assert_one_line_error(run("inspect", "", "--model", two_layer_model), 2, "no text")
    gru = tmp_path / "gru.lstm"
    result = run("train", tiny_corpus, "--cell", "gru", "--layers", "1", "--hidden", "8", "--max-steps", "2",
                 "--seq-len", "8", "--batch-size", "2", "--out", gru)
    assert result.exit_code == 0, result.output
    assert_one_line_error(run("inspect", "fire", "--model", gru), 2, "gru model", "--cell lstm")
