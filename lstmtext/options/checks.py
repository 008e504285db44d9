"""The checks every option type uses: each failure is an `OptionError` naming its field. No torch."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TypeVar

from ..errors import BadInput, OptionError

MAX_SEED = 2 ** 63 - 1
Options = TypeVar("Options")


def changed(options: Options | None, kind: type[Options], changes: dict[str, object]) -> Options:
    """`options` (None: `kind()`, the defaults) with `changes` made. Options handed down whole are used as they
    are: they were checked once, when made."""
    options = options if options is not None else kind()
    return replace(options, **changes) if changes else options


def require(condition: bool, problem: str, fix: str) -> None:
    """Raise BadInput(problem, fix) unless `condition` (for problems that are not one option's value)."""
    if not condition:
        raise BadInput(problem, fix)


def require_option(condition: bool, field: str | None, problem: str, fix: str, **values: object) -> None:
    """Raise OptionError(field, problem, fix, **values) unless `condition` (templates: see OptionError)."""
    if not condition:
        raise OptionError(field, problem, fix, **values)


def check_choice(field: str, value: str, allowed: tuple[str, ...]) -> None:
    require_option(value in allowed, field, "unknown {name} '{value}'", "use one of: {allowed}", value=value,
                   allowed=", ".join(allowed))


def check_finite(field: str, value: float | None, example: float) -> None:
    """Infinity and NaN are never a setting: refuse them by name (`value` None means not set)."""
    require_option(value is None or math.isfinite(value), field, "{name} {value} is not a finite number",
                   "pass e.g. {example}", value=value, example=example)


def check_positive(field: str, value: float | None, example: float) -> None:
    check_finite(field, value, example)
    require_option(value is None or value > 0, field, "{name} {value} must be positive", "pass e.g. {example}",
                   value=value, example=example)


def check_at_least_one(field: str, value: int | None, example: int) -> None:
    require_option(value is None or value >= 1, field, "{name} {value} must be at least 1", "pass e.g. {example}",
                   value=value, example=example)


def check_at_most(field: str, value: int | None, most: int) -> None:
    """What one request may ask of a model: more would take minutes and gigabytes, not give better answers."""
    require_option(value is None or value <= most, field, "{name} {value} is more than one request may ask for",
                   "use {example} or less", value=value, example=most)


def check_fraction(field: str, value: float, example: float) -> None:
    """A share that must stay below 1, as a dropout rate."""
    require_option(0.0 <= value < 1.0, field, "{name} {value} is outside [0, 1)", "pass e.g. {example}",
                   value=value, example=example)


def check_seed(field: str, seed: int | None) -> None:
    require_option(seed is None or 0 <= seed <= MAX_SEED, field, "{name} {value} is outside 0 to 2^63-1",
                   "pass e.g. {example}", value=seed, example=1337)
