"""torchrun with 2 CPU processes (gloo) trains the same model as one process with the same global batch."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import lstmtext
from lstmtext.core.device import seed_everything
from lstmtext.core.model import RecurrentLM
from lstmtext.core.store import ModelStore
from lstmtext.options import Regularization, TokenizerConfig, TrainConfig

# Dropout off: each process would draw its own masks. In fp32 what remains is float rounding: DDP averages two
# half-batch gradients where one process takes the mean over the whole batch.
TOLERANCE = dict(rtol=1e-4, atol=1e-5)
# In bf16 the matmuls round their inputs to 8 significant bits, so the two ways of summing the batch differ by
# about 2^-8 of a gradient. AdamW divides each gradient by its running size, so where a gradient is near zero
# that noise can turn a step around: such a weight moves by up to the learning rate (6e-3) per step in
# either run (on a bf16 CPU 476 of 9,792 weights differed, by up to 5.6e-3). What must hold is that both runs
# took the same steps: they end far closer to each other than to where they started. A process that trained
# on its half alone, without averaging, ends about as far from the single process as training moved it.
BF16_SHARE_OF_MOVEMENT = 0.1
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


def flat_weights(model) -> torch.Tensor:
    return torch.cat([weight.flatten().float() for weight in model.state_dict().values()])


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_two_processes_match_one_with_the_same_global_batch(tiny_corpus, tmp_path, precision):
    launched = torchrun(tiny_corpus, tmp_path / "ddp.lstm", *NO_DROPOUT, "--max-steps", "10", "--precision", precision)
    assert launched.returncode == 0, launched.stderr[-3000:]
    assert launched.stdout.count("saved model") == 1  # rank 0 alone reports and writes
    single = lstmtext.train(tiny_corpus, tokenizer=TokenizerConfig("char"),
                            training=TrainConfig(**SETTINGS, precision=precision), layers=1, hidden_size=32,
                            regularization=Regularization(0.0, 0.0, 0.0, 0.0), out=tmp_path / "one.lstm",
                            store=ModelStore(root=tmp_path / "home1"))
    ddp = lstmtext.load(tmp_path / "ddp.lstm")
    assert ddp.header.run.precision == single.model.header.run.precision == precision
    assert ddp.header.run.steps == single.steps == 10
    seed_everything(TrainConfig.seed)  # the same start both runs had: training did move the weights
    initial = flat_weights(RecurrentLM(single.model.config))
    moved = (flat_weights(single.model.model) - initial).norm()
    assert moved > 0.1
    if precision == "fp32":
        assert ddp.header.metrics.best_step == single.model.header.metrics.best_step
        for name, weight in single.model.model.state_dict().items():
            torch.testing.assert_close(ddp.model.state_dict()[name], weight, **TOLERANCE)
    else:
        apart = (flat_weights(ddp.model) - flat_weights(single.model.model)).norm()
        assert apart <= BF16_SHARE_OF_MOVEMENT * moved, (apart, moved)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_a_multi_process_run_interrupted_and_resumed_ends_where_the_whole_run_ends(tiny_corpus, tmp_path, precision):
    """In fp32 bit-identical. In bf16 (on a CPU without AVX-512, where PyTorch's own kernels run it) a resumed run
    with dropout was measured 2.4% of the distance training moved the weights away from the whole run (weights at
    most 8.6e-3 apart): bf16's rounding differs, and AdamW turns such differences into whole steps where a gradient
    is near zero, as in the DDP test above; the same bound applies."""
    options = ["--max-steps", "12", "--checkpoint-every", "5", "--dropout", "0.2", "--weight-drop", "0.2",
               "--precision", precision]
    # dropout on: every rank's generator matters
    assert torchrun(tiny_corpus, tmp_path / "whole.lstm", *options).returncode == 0
    stopped = subprocess.run(  # the same run through the API, told to stop after step 7 (see torchrun_stop.py)
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         str(Path(__file__).with_name("torchrun_stop.py")), str(tiny_corpus), str(tmp_path / "cut.lstm"), precision,
         "7"], env={**os.environ, "LSTMTEXT_HOME": str(tmp_path / "home")}, capture_output=True, text=True,
        timeout=300)
    assert stopped.returncode != 0 and "interrupted after step 7" in stopped.stderr
    one_process = subprocess.run([sys.executable, "-m", "lstmtext", "train", str(tiny_corpus), "--out",
                                  str(tmp_path / "cut.lstm"), *SMALL, *options, "--resume"],
                                 env={**os.environ, "LSTMTEXT_HOME": str(tmp_path / "home")},
                                 capture_output=True, text=True, timeout=300)
    assert one_process.returncode == 2 and "written by 2 training process" in one_process.stderr
    resumed = torchrun(tiny_corpus, tmp_path / "cut.lstm", *options, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    whole, cut = lstmtext.load(tmp_path / "whole.lstm"), lstmtext.load(tmp_path / "cut.lstm")
    if precision == "fp32":
        for name, weight in whole.model.state_dict().items():
            assert torch.equal(cut.model.state_dict()[name], weight), name
    else:
        seed_everything(TrainConfig.seed)
        moved = (flat_weights(whole.model) - flat_weights(RecurrentLM(whole.config))).norm()
        assert (flat_weights(cut.model) - flat_weights(whole.model)).norm() <= BF16_SHARE_OF_MOVEMENT * moved
