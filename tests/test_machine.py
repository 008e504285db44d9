"""What the machine decides: the training precision (measured where the CPU claims bf16, or forced by
LSTMTEXT_CPU_BF16) and the CPU threads (the cores other programs leave free; one for single-stream generation)."""

from __future__ import annotations

import functools
import os

import pytest
import torch

import lstmtext
import lstmtext.training.sizing
from lstmtext.core import device, machine
from lstmtext.core.device import CPU_BF16_VARIABLE, choose_precision, precisions_to_measure
from lstmtext.errors import BadInput
from lstmtext.options import Regularization, TokenizerConfig, TrainConfig
from lstmtext.training.sizing import plan_sizes

from .conftest import Recorder

CPU = torch.device("cpu")


@pytest.fixture()
def bf16_cpu(monkeypatch):
    """A CPU that claims bf16 instructions, with no override set."""
    monkeypatch.delenv(CPU_BF16_VARIABLE, raising=False)
    monkeypatch.setattr(device, "cpu_has_fast_bf16", lambda: True)


@pytest.mark.parametrize("speedup, chosen", [(1.7, "bf16"), (1.2, "bf16"), (1.1, "fp32"), (0.3, "fp32")])
def test_auto_takes_bf16_only_where_it_measures_at_least_20_percent_faster(bf16_cpu, speedup, chosen):
    assert precisions_to_measure("auto", CPU) == ("fp32", "bf16")
    choice = choose_precision("auto", CPU, {"fp32": 100.0, "bf16": 100.0 * speedup})
    assert choice.precision == chosen and "measured" in choice.reason and f"{speedup:.1f}" in choice.reason


def test_a_cpu_without_bf16_trains_in_fp32_without_measuring(monkeypatch):
    monkeypatch.delenv(CPU_BF16_VARIABLE, raising=False)
    monkeypatch.setattr(device, "cpu_has_fast_bf16", lambda: False)
    assert precisions_to_measure("auto", CPU) == ()
    assert choose_precision("auto", CPU).precision == "fp32"
    assert "no bf16 instructions" in choose_precision("auto", CPU).reason


@pytest.mark.parametrize("value, chosen", [("1", "bf16"), ("0", "fp32")])
def test_the_variable_overrides_detection_and_measurement(bf16_cpu, monkeypatch, value, chosen):
    monkeypatch.setenv(CPU_BF16_VARIABLE, value)
    assert precisions_to_measure("auto", CPU) == ()
    choice = choose_precision("auto", CPU)
    assert choice.precision == chosen and f"{CPU_BF16_VARIABLE}={value}" in choice.reason
    assert choose_precision("fp32", CPU).precision == "fp32"  # an explicit --precision still wins


def test_a_bad_value_of_the_variable_is_named(monkeypatch):
    monkeypatch.setenv(CPU_BF16_VARIABLE, "yes")
    with pytest.raises(BadInput, match="LSTMTEXT_CPU_BF16=yes is neither 0 nor 1"):
        choose_precision("auto", CPU)


@pytest.mark.parametrize("bf16_speed, chosen", [(170.0, "bf16"), (110.0, "fp32")])
def test_training_says_first_which_precision_it_measured_and_why(bf16_cpu, monkeypatch, tiny_corpus, tmp_path,
                                                                  bf16_speed, chosen):
    measured = []

    def probe(device_, precisions, batch):
        measured.append(precisions)
        return {"fp32": {192: 100.0e9, 512: 100.0e9}, "bf16": {192: bf16_speed * 1e9, 512: bf16_speed * 1e9}}

    monkeypatch.setattr(lstmtext.training.sizing, "probe_speed", probe)
    notes = Recorder()
    result = lstmtext.train(tiny_corpus, tokenizer=TokenizerConfig("char"),
                            training=TrainConfig(seq_len=16, batch_size=2, max_steps=2), layers=1, hidden_size=16,
                            out=tmp_path / "m.lstm", observer=notes)
    assert measured == [("fp32", "bf16")]
    assert notes.notes[0].startswith(f"precision {chosen}: bf16 measured")
    assert f"{bf16_speed / 100:.2f}× as fast as fp32" in notes.notes[0]
    assert result.model.header.run.precision == result.model.header.training["precision"] == chosen


def test_bf16_trains_where_the_cpu_has_no_bf16_lstm_kernel(tiny_corpus, tmp_path):
    """Without AVX-512, oneDNN has no bf16 LSTM; PyTorch's own kernels run it (emulated, slow, but right)."""
    result = lstmtext.train(tiny_corpus, tokenizer=TokenizerConfig("char"),
                            training=TrainConfig(seq_len=16, batch_size=2, max_steps=3, precision="bf16"), layers=1,
                            hidden_size=16, out=tmp_path / "m.lstm")
    assert result.model.header.run.precision == "bf16" and result.steps == 3


def later_sample(seconds: float, busy_ticks: int, own_seconds: float):
    return machine.LoadSample(seconds, busy_ticks, own_seconds)


@pytest.mark.parametrize("others_busy, own_busy, free", [(0.0, 0.0, 2), (0.0, 1.9, 2), (1.0, 0.9, 1),
                                                          (2.0, 0.0, 1), (0.3, 0.0, 2)])
def test_free_cores_are_the_cores_other_programs_leave(monkeypatch, others_busy, own_busy, free):
    """Over one second: `others_busy` cores' worth of other programs' time, `own_busy` of this process's."""
    monkeypatch.setattr(machine, "cores", lambda: 2)
    monkeypatch.setattr(machine, "_TICKS_PER_SECOND", 100)
    start = machine.LoadSample(0.0, 1000, 5.0)
    ticks = round(100 * (others_busy + own_busy))
    monkeypatch.setattr(machine.LoadSample, "now", classmethod(lambda cls: later_sample(1.0, 1000 + ticks,
                                                                                        5.0 + own_busy)))
    monkeypatch.setattr(machine.time, "monotonic", lambda: 1.0)
    assert start.free_cores() == free


def test_without_proc_stat_every_core_counts_as_free(monkeypatch):
    monkeypatch.setattr(machine, "cores", lambda: 4)
    monkeypatch.setattr(machine.time, "sleep", lambda seconds: None)
    assert machine.LoadSample(0.0, None, 0.0).free_cores() == 4


def test_the_cli_uses_the_free_cores_and_sleeping_threads(monkeypatch):
    from lstmtext.cli import common

    chosen = []
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.setattr(machine.LoadSample, "free_cores", lambda self: 1)
    monkeypatch.setattr(device, "use_cpu_threads", chosen.append)
    common.torch_on_free_cores()
    assert chosen == [1] and os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # the user's choice stands
    common.torch_on_free_cores()
    assert chosen == [1]


def test_generation_steps_on_one_thread_and_gives_the_threads_back(tiny_model):
    before = torch.get_num_threads()
    seen = []
    for _ in tiny_model.generate("The", length=5, seed=1):
        seen.append(torch.get_num_threads())
    assert set(seen) == {1} and torch.get_num_threads() == before


def test_precision_is_decided_at_the_size_that_will_be_trained(bf16_cpu, monkeypatch):
    """bf16 barely helps a small layer and triples a large one: a budget that affords the large one in bf16
    trains it in bf16; at a size fixed small, fp32."""
    rates = {"fp32": {192: 100.0e9, 512: 100.0e9}, "bf16": {192: 110.0e9, 512: 300.0e9}}
    monkeypatch.setattr(lstmtext.training.sizing, "probe_speed", lambda device_, precisions, batch: rates)
    plan = functools.partial(plan_sizes, "char", 96, 1_100_000, 1.0, TrainConfig(max_time=300), layers=3,
                             regularization=Regularization())
    precision, sizing = plan(hidden_size=None)
    assert precision.precision == "bf16" and sizing.hidden_size >= 256
    assert f"at 3×{sizing.hidden_size}" in precision.reason
    precision, sizing = plan(hidden_size=192)
    assert precision.precision == "fp32" and "1.10×" in precision.reason and sizing.hidden_size == 192
