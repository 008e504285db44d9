"""torchrun with 2 CPU processes (gloo) trains the same model as one process with the same global batch."""

import os
import subprocess
import sys

import torch

import lstmtext
from lstmtext.config import TokenizerConfig, TrainConfig
from lstmtext.device import seed_everything
from lstmtext.model import RecurrentLM
from lstmtext.store import ModelStore

# Dropout off: each process would draw its own masks. What remains is float rounding: DDP averages two
# half-batch gradients where one process takes the mean over the whole batch.
TOLERANCE = dict(rtol=1e-4, atol=1e-5)
SETTINGS = dict(seq_len=16, batch_size=4, max_steps=10, device="cpu")


def test_two_processes_match_one_with_the_same_global_batch(tiny_corpus, tmp_path):
    env = {**os.environ, "LSTMTEXT_HOME": str(tmp_path / "home")}
    launched = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "lstmtext",
         "train", str(tiny_corpus), "--out", str(tmp_path / "ddp.lstm"), "--level", "char", "--layers", "1",
         "--hidden", "32", "--dropout", "0", "--seq-len", "16", "--batch-size", "4", "--max-steps", "10",
         "--device", "cpu"], env=env, capture_output=True, text=True, timeout=300)
    assert launched.returncode == 0, launched.stderr[-3000:]
    assert launched.stdout.count("saved model") == 1  # rank 0 alone reports and writes
    single = lstmtext.train(tiny_corpus, tokenizer=TokenizerConfig("char"), training=TrainConfig(**SETTINGS),
                            layers=1, hidden_size=32, dropout=0.0, out=tmp_path / "one.lstm",
                            store=ModelStore(root=tmp_path / "home1"))
    ddp = lstmtext.load(tmp_path / "ddp.lstm")
    assert ddp.header["run"]["steps"] == single.steps == 10
    assert ddp.header["metrics"]["best_step"] == single.model.header["metrics"]["best_step"]
    for name, weight in single.model.model.state_dict().items():
        torch.testing.assert_close(ddp.model.state_dict()[name], weight, **TOLERANCE)
    seed_everything(TrainConfig.seed)  # the same start both runs had: training did move the weights
    initial = RecurrentLM(single.model.config)
    assert not torch.allclose(initial.rnn.weight_hh_l0, ddp.model.rnn.weight_hh_l0, atol=1e-3)
