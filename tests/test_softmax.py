"""The adaptive softmax of big vocabularies: cheap to train, exact to use."""

import numpy as np
import pytest
import torch

import lstmtext
from lstmtext.core import config as model_config
from lstmtext.core.config import ModelConfig, softmax_cutoffs
from lstmtext.core.corpus import encode_corpus
from lstmtext.core.linear_loss import linear_nll
from lstmtext.core.model import RecurrentLM
from lstmtext.core.softmax import AdaptiveDecoder
from lstmtext.core.textfile import inspect_corpus
from lstmtext.options import TokenizerConfig, TrainConfig

from .conftest import TINY_TRAINING
from .test_export import Exported


def test_big_vocabularies_get_an_adaptive_softmax_and_small_ones_a_full_one():
    assert softmax_cutoffs(96, "word") == softmax_cutoffs(2000, "word") == softmax_cutoffs(8192, "bpe") == ()
    assert softmax_cutoffs(10_000, "word") == (2000, 8000) and softmax_cutoffs(5000, "word") == (2000,)
    assert ModelConfig(vocab_size=10_000, hidden_size=64, embed_size=64, softmax_cutoffs=(2000, 8000)).ties_weights \
        is False


@pytest.mark.parametrize("with_bias", [True, False])
def test_the_blockwise_full_softmax_loss_matches_cross_entropy_and_its_gradients(with_bias):
    torch.manual_seed(0)
    hidden = torch.randn(1000, 32, requires_grad=True)  # several blocks: 1000 rows over 9,000 logits each
    weight = (torch.randn(9000, 32) * 0.1).requires_grad_()
    bias = torch.randn(9000, requires_grad=True) if with_bias else None
    targets, weights = torch.randint(0, 9000, (1000,)), torch.rand(1000)
    leaves = [hidden, weight] + ([bias] if with_bias else [])
    expected = torch.nn.functional.cross_entropy(torch.nn.functional.linear(hidden, weight, bias), targets,
                                                 reduction="none")
    expected_grads = torch.autograd.grad((expected * weights).sum(), leaves)
    found = linear_nll(hidden, weight, bias, targets)
    found_grads = torch.autograd.grad((found * weights).sum(), leaves)
    torch.testing.assert_close(found, expected, rtol=0, atol=1e-5)
    for grad, expected_grad in zip(found_grads, expected_grads):
        torch.testing.assert_close(grad, expected_grad, rtol=0, atol=1e-5)


def test_the_blockwise_loss_under_bf16_autocast_is_as_close_as_the_plain_one():
    torch.manual_seed(0)
    hidden, weight = torch.randn(300, 64, requires_grad=True), (torch.randn(5000, 64) * 0.1).requires_grad_()
    targets = torch.randint(0, 5000, (300,))
    exact = linear_nll(hidden, weight, None, targets)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        found = linear_nll(hidden, weight, None, targets)
    assert found.dtype == torch.float32
    torch.testing.assert_close(found, exact, rtol=0, atol=0.05)
    grad, = torch.autograd.grad(found.mean(), weight)
    assert grad.dtype == torch.float32
    torch.testing.assert_close(grad, torch.autograd.grad(exact.mean(), weight)[0], rtol=0, atol=1e-3)


def test_an_adaptive_softmax_gives_a_whole_distribution_and_the_same_log_probs_for_the_targets():
    torch.manual_seed(0)
    model = RecurrentLM(ModelConfig(vocab_size=500, layers=2, hidden_size=32, embed_size=32,
                                    softmax_cutoffs=(50, 200))).eval()
    counts = torch.zeros(500)
    counts[[499, 7, 300]] = torch.tensor([100.0, 50.0, 20.0])
    model.decoder.rank_by_frequency(counts)
    assert model.decoder.rank[[499, 7, 300]].tolist() == [0, 1, 2]  # the most frequent lead the shortlist
    tokens, targets = torch.randint(0, 500, (3, 9)), torch.randint(0, 500, (3, 9))
    log_probs, _ = model(tokens)
    assert log_probs.shape == (3, 9, 500)
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(3, 9), atol=1e-5)
    nll, _ = model(tokens, targets=targets)
    assert torch.allclose(nll, -log_probs.gather(-1, targets[..., None])[..., 0], atol=1e-5)


@pytest.fixture(scope="module")
def adaptive_model(tiny_corpus, tmp_path_factory):
    """A word model of the tiny corpus with an adaptive softmax (the threshold lowered to its vocabulary)."""
    path = tmp_path_factory.mktemp("adaptive") / "adaptive.lstm"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(model_config, "ADAPTIVE_SOFTMAX_FROM", 300)
        patch.setattr(model_config, "_CLUSTER_STARTS", (60, 160))
        lstmtext.train(tiny_corpus, tokenizer=TokenizerConfig("word", 400),
                       training=TrainConfig(**{**TINY_TRAINING, "max_steps": 20}), layers=2, hidden_size=32,
                       out=path)
    return lstmtext.load(path)


def test_a_big_vocabulary_trains_saves_and_loads_with_its_frequency_ranks(adaptive_model, tiny_corpus, tmp_path):
    assert adaptive_model.header.model.softmax_cutoffs == (60, 160)
    decoder = adaptive_model.model.decoder
    assert isinstance(decoder, AdaptiveDecoder)
    ids = encode_corpus(inspect_corpus(tiny_corpus), adaptive_model.tokenizer, tmp_path)
    counts = np.bincount(ids[: len(ids) - adaptive_model.header.held_out["tokens"]], minlength=len(decoder.rank))
    most_frequent_first = np.argsort(-counts, kind="stable")
    assert int(decoder.rank[most_frequent_first[0]]) == 0  # ranked on the training text: the most frequent first
    by_rank = counts[torch.argsort(decoder.rank).numpy()]  # each class's count, in the softmax's order
    assert (np.diff(by_rank[:50]) <= 2).all()  # no rarer token ahead of a more frequent one (give or take a line)
    assert sorted(decoder.rank.tolist()) == list(range(adaptive_model.tokenizer.vocab_size))


def test_an_adaptive_model_scores_completes_and_adapts_with_its_exact_distribution(adaptive_model, tmp_path):
    text = "The king is here, and the night is long. " * 3  # one line: encoded as eval encodes a file
    (tmp_path / "t.txt").write_text(text, encoding="utf-8")
    ids = torch.tensor([adaptive_model.tokenizer.encode(text)])
    with torch.no_grad():
        log_probs, _ = adaptive_model.model(ids[:, :-1])
    nats_per_token = -log_probs.gather(-1, ids[:, 1:, None]).mean().item()
    expected = nats_per_token * ids.shape[1] / len(text)  # as eval reports it: per token, spread over the chars
    evaluation = adaptive_model.evaluate(tmp_path / "t.txt")
    assert evaluation.nats_per_char == pytest.approx(expected, rel=1e-4)
    assert adaptive_model.evaluate(tmp_path / "t.txt", adapt=True).nats_per_char > 0
    assert adaptive_model.complete("The ki", n=3)  # beam search over the exact distribution
    assert "".join(adaptive_model.generate("The", length=20, seed=1))


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_an_adaptive_model_exports_its_exact_distribution(adaptive_model, tmp_path, fmt):
    if fmt == "onnx":  # optional dev dependencies: pip install -e '.[dev]'
        pytest.importorskip("onnxscript")
        pytest.importorskip("onnxruntime")
    # the text the export is traced on: a second ONNX export in one process fixes the length to the traced one
    # (torch.onnx's exporter, also for full-softmax models; the CLI exports once per process)
    ids = torch.tensor([adaptive_model.tokenizer.encode("\n") + adaptive_model.tokenizer.encode("When there is fire")])
    with torch.no_grad():
        log_probs, _ = adaptive_model.model(ids)
    adaptive_model.export(tmp_path / "m", fmt)
    exported = Exported(tmp_path / "m", fmt)
    zeros = np.zeros((2, 1, 32), dtype=np.float32)
    np.testing.assert_allclose(np.exp(exported.run(ids.numpy(), zeros, zeros)[0]), log_probs.exp().numpy(),
                               atol=1e-5)
