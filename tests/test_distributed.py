"""torchrun with 2 CPU processes (gloo) trains the same model as one process with the same global batch."""

import os
import subprocess
import sys

import torch

import lstmtext
from lstmtext.config import Regularization, TokenizerConfig, TrainConfig
from lstmtext.device import seed_everything
from lstmtext.model import RecurrentLM
from lstmtext.store import ModelStore

# Dropout off: each process would draw its own masks. What remains is float rounding: DDP averages two
# half-batch gradients where one process takes the mean over the whole batch.
TOLERANCE = dict(rtol=1e-4, atol=1e-5)
SETTINGS = dict(seq_len=16, batch_size=4, max_steps=10, device="cpu")
NO_DROPOUT = ["--dropout", "0", "--input-dropout", "0", "--embed-dropout", "0", "--weight-drop", "0"]


SMALL = ["--level", "char", "--layers", "1", "--hidden", "32", "--seq-len", "16", "--batch-size", "4",
         "--device", "cpu"]


def torchrun(corpus, out, *options, processes=2, **env):
    return subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes),
         "-m", "lstmtext", "train", str(corpus), "--out", str(out), *SMALL, *options],
        env={**os.environ, "LSTMTEXT_HOME": str(out.parent / "home"), **env}, capture_output=True, text=True,
        timeout=300)


def test_two_processes_match_one_with_the_same_global_batch(tiny_corpus, tmp_path):
    launched = torchrun(tiny_corpus, tmp_path / "ddp.lstm", *NO_DROPOUT, "--max-steps", "10")
    assert launched.returncode == 0, launched.stderr[-3000:]
    assert launched.stdout.count("saved model") == 1  # rank 0 alone reports and writes
    single = lstmtext.train(tiny_corpus, tokenizer=TokenizerConfig("char"), training=TrainConfig(**SETTINGS),
                            layers=1, hidden_size=32, regularization=Regularization(0.0, 0.0, 0.0, 0.0),
                            out=tmp_path / "one.lstm",
                            store=ModelStore(root=tmp_path / "home1"))
    ddp = lstmtext.load(tmp_path / "ddp.lstm")
    assert ddp.header["run"]["steps"] == single.steps == 10
    assert ddp.header["metrics"]["best_step"] == single.model.header["metrics"]["best_step"]
    for name, weight in single.model.model.state_dict().items():
        torch.testing.assert_close(ddp.model.state_dict()[name], weight, **TOLERANCE)
    seed_everything(TrainConfig.seed)  # the same start both runs had: training did move the weights
    initial = RecurrentLM(single.model.config)
    assert not torch.allclose(initial.rnn.weight_hh_l0, ddp.model.rnn.weight_hh_l0, atol=1e-3)


def test_a_multi_process_run_interrupted_and_resumed_ends_bit_identical(tiny_corpus, tmp_path):
    options = ["--max-steps", "12", "--checkpoint-every", "5", "--dropout", "0.2", "--weight-drop", "0.2"]
    # dropout on: every rank's generator matters
    assert torchrun(tiny_corpus, tmp_path / "whole.lstm", *options).returncode == 0
    stopped = torchrun(tiny_corpus, tmp_path / "cut.lstm", *options, LSTMTEXT_TEST_STOP_AFTER_STEP="7")
    assert stopped.returncode != 0 and "interrupted after step 7" in stopped.stderr
    one_process = subprocess.run([sys.executable, "-m", "lstmtext", "train", str(tiny_corpus), "--out",
                                  str(tmp_path / "cut.lstm"), *SMALL, *options, "--resume"],
                                 env={**os.environ, "LSTMTEXT_HOME": str(tmp_path / "home")},
                                 capture_output=True, text=True, timeout=300)
    assert one_process.returncode == 2 and "written by 2 training process" in one_process.stderr
    resumed = torchrun(tiny_corpus, tmp_path / "cut.lstm", *options, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    whole, cut = lstmtext.load(tmp_path / "whole.lstm"), lstmtext.load(tmp_path / "cut.lstm")
    for name, weight in whole.model.state_dict().items():
        assert torch.equal(cut.model.state_dict()[name], weight), name
