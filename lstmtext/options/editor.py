"""What `lstmtext lsp` may be set to (initializationOptions, workspace/didChangeConfiguration). No torch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

from ..errors import OptionError
from .checks import check_at_least_one, check_at_most, check_choice, require_option
from .decoding import MAX_COMPLETION_TOKENS, MAX_COMPLETIONS, UNTIL

MAX_BUDGET_MS = 1000  # the most an adapted budget allows a request (a budget_ms set higher is kept)


@dataclass(frozen=True)
class EditorOptions:
    """Ghost text and completion menus in an editor: the `model` (None: the default one), `n` completions in a
    menu, each ending at the end of the `until` unit or after `max_tokens`; ghost text of about `ghost_chars`
    characters; a request that takes longer than its budget answers nothing rather than late (`budget_ms`, or
    more where the model is slower than that on this machine: see `budget_seconds`); with `adapt`,
    each document has its own writing session that learns every line finished in it; `file_types` (language ids,
    e.g. "markdown"; empty: every file)."""

    model: str | None = None
    n: int = 5
    until: str = "word"
    max_tokens: int = 16
    ghost_chars: int = 32
    budget_ms: int = 50
    adapt: bool = False
    file_types: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_at_least_one("n", self.n, 5)
        check_at_most("n", self.n, MAX_COMPLETIONS)
        check_choice("until", self.until, UNTIL)
        check_at_least_one("max_tokens", self.max_tokens, 16)
        check_at_most("max_tokens", self.max_tokens, MAX_COMPLETION_TOKENS)
        check_at_least_one("ghost_chars", self.ghost_chars, 32)
        check_at_least_one("budget_ms", self.budget_ms, 50)
        require_option(isinstance(self.file_types, tuple) and all(isinstance(t, str) for t in self.file_types),
                       "file_types", "{name} must be a list of language ids", "pass e.g. {example}",
                       example='["markdown", "plaintext"]')

    def budget_seconds(self, recent: Sequence[float]) -> float:
        """How long the next request may take: `budget_ms`, or where the model's recent answers (`recent`,
        seconds each) took longer, twice their 90th percentile, up to `MAX_BUDGET_MS`. A budget the model
        cannot meet would leave the editor without ghost text; one far above it would draw stale text late."""
        if not recent:
            return self.budget_ms / 1000
        ordered = sorted(recent)
        typical = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
        return max(self.budget_ms / 1000, min(2 * typical, MAX_BUDGET_MS / 1000))

    @classmethod
    def from_settings(cls, settings: object, base: EditorOptions | None = None) -> EditorOptions:
        """`base` (default: the defaults) changed by an editor's settings object: its known keys, camelCase or
        snake_case, under an optional "lstmtext" key. Wrong types are option errors, like wrong values."""
        base = base or cls()
        if isinstance(settings, dict) and isinstance(settings.get("lstmtext"), dict):
            settings = settings["lstmtext"]
        if not isinstance(settings, dict):
            return base
        known = {field.name: field for field in fields(cls)}
        values = {}
        for key, value in settings.items():
            name = "".join(f"_{c.lower()}" if c.isupper() else c for c in key)
            if name in known:
                values[name] = _typed(name, value)
        return cls(**{**{name: getattr(base, name) for name in known}, **values})


def _typed(name: str, value: object) -> object:
    expected = {"model": (str, type(None)), "n": int, "until": str, "max_tokens": int, "ghost_chars": int,
                "budget_ms": int, "adapt": bool, "file_types": (list, tuple)}[name]
    if (isinstance(value, bool) and expected is not bool) or not isinstance(value, expected):
        raise OptionError(name, "{name} {value!r} has the wrong type", "pass e.g. {example}", value=value,
                          example=getattr(EditorOptions, name, None) if name != "file_types" else '["markdown"]')
    return tuple(value) if name == "file_types" else value
