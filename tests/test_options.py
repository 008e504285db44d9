"""The option types: each default written once and handed down by every interface, checked when made, errors
naming the field in each interface's own spelling."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

import lstmtext
from lstmtext.cli.common import FlagSpelling
from lstmtext.cli.repl import ReplSpelling, Settings, parse_setting
from lstmtext.errors import OptionError
from lstmtext.options import (
    CompletionOptions,
    GenerationOptions,
    ModelShape,
    Sampling,
    TrainConfig,
    completion_options,
    generation_options,
)


class Spy:
    """A model that records the options it is asked with."""

    path = "spy"

    def __init__(self) -> None:
        self.asked = []

    def complete(self, prefix, options=None, **changes):
        self.asked.append(completion_options(options, **changes))
        return []

    def generate(self, prompt="", options=None, **changes):
        self.asked.append(generation_options(options, **changes))
        return iter(())


@pytest.fixture
def spy(monkeypatch, trained):
    model = Spy()
    monkeypatch.setattr(lstmtext.api, "load", lambda *args, **kwargs: model)
    return model


def test_the_cli_hands_down_the_library_defaults(run, spy, trained):
    assert run("complete", "When").exit_code == 0
    assert run("generate").exit_code == 0
    assert spy.asked == [CompletionOptions(), GenerationOptions()]


def test_the_repl_hands_down_the_library_defaults():
    settings = Settings()
    assert settings.completion_options == CompletionOptions() and settings.generation == GenerationOptions()
    sampled = parse_setting(settings, "sample", "on").completion_options
    assert sampled.sampling == GenerationOptions().sampling == Sampling()


def test_the_api_and_the_cli_sample_at_the_same_default_temperature(run, spy):
    assert run("generate").exit_code == 0
    assert spy.asked[0].sampling.temperature == generation_options().sampling.temperature == Sampling.temperature
    assert completion_options(sample=True).sampling.temperature == Sampling.temperature


def test_flat_changes_reach_the_nested_sampling_options():
    options = completion_options(n=5, sample=True, temperature=0.5, seed=3)
    assert (options.n, options.sampling.temperature, options.sampling.seed) == (5, 0.5, 3)
    assert completion_options(CompletionOptions(sampling=Sampling()), sample=False).sampling is None
    with pytest.raises(OptionError, match="temperature"):
        completion_options(temperature=-1)


@pytest.mark.parametrize("make, api, cli, repl", [
    (lambda: GenerationOptions(length=0), "length 0 must be at least 1 — pass e.g. length=200",
     "--length 0 must be at least 1 — pass e.g. --length 200", ":length 0"),
    (lambda: CompletionOptions(n=4, beam_width=2), "beam_width 2 is smaller than n 4",
     "--beam 2 is smaller than -n 4", ":beam-width 2"),
    (lambda: Sampling(top_p=2.0), "top_p 2.0 is outside (0, 1]", "--top-p 2.0 is outside (0, 1]", ":top-p 2.0"),
    (lambda: ModelShape(hidden_size=0), "hidden_size 0 must be at least 1", "--hidden 0", ":hidden-size 0"),
    (lambda: TrainConfig(lr=float("inf")), "lr inf is not a finite number", "--lr inf", ":lr inf"),
])
def test_errors_name_the_field_and_each_interface_spells_it(make, api, cli, repl):
    with pytest.raises(OptionError) as raised:
        make()
    assert api in str(raised.value)
    assert cli in raised.value.spelled(FlagSpelling())
    assert repl in raised.value.spelled(ReplSpelling())


def test_the_library_speaks_field_names_not_flags(tiny_model):
    with pytest.raises(OptionError, match="^length 0 must be at least 1"):
        tiny_model.generate("x", length=0)
    with pytest.raises(OptionError, match="^n 0 must be at least 1"):
        tiny_model.complete("x", n=0)


def test_options_are_frozen_and_need_no_torch():
    with pytest.raises(dataclasses.FrozenInstanceError):
        CompletionOptions().n = 5
    check = "import sys, lstmtext.options as o; o.CompletionOptions(); assert 'torch' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", check]).returncode == 0


def test_the_editor_s_budget_rises_to_what_the_model_needs_and_no_further():
    from lstmtext.options import EditorOptions

    options = EditorOptions()
    assert options.budget_seconds([]) == 0.05
    assert options.budget_seconds([0.01] * 20) == 0.05  # a fast model keeps the budget set
    assert options.budget_seconds([0.02] * 17 + [0.2, 0.2, 0.3]) == pytest.approx(0.4)  # twice the 90th percentile
    assert options.budget_seconds([3.0] * 5) == 1.0  # never more than a second...
    assert EditorOptions(budget_ms=2000).budget_seconds([3.0]) == 2.0  # ...unless set so
