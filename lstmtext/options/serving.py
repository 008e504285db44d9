"""What `lstmtext serve` may be asked, and where it listens: the server's limits, checked once. No torch."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from .checks import check_at_least_one, check_positive, require_option
from .decoding import MAX_COMPLETION_TOKENS, MAX_COMPLETIONS

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
_ORIGIN = re.compile(r"https?://[^/\s]+")


def is_loopback(host: str) -> bool:
    """Whether `host` is this machine only (other machines cannot connect)."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServeOptions:
    """Where the server listens, and what one request may ask. Listening anywhere but this machine requires an
    `api_key` (clients send `Authorization: Bearer KEY`). `batching` steps all requests of a model together;
    off, one at a time (for comparison)."""

    host: str = "127.0.0.1"
    port: int = 8000
    api_key: str | None = None
    batching: bool = True
    max_tokens: int = 512  # tokens one completion may ask for
    max_n: int = 16  # completions one request may ask for (n × prompts)
    max_prompt_chars: int = 100_000
    max_request_bytes: int = 1_000_000
    head_seconds: float = 10.0  # a request's line and headers must arrive within this (else 408, and closed)
    body_seconds: float = 30.0  # the longest pause in a request's body (else 408)
    grace_seconds: float = 10.0  # how long Ctrl-C or SIGTERM lets the requests in flight run on
    cors: tuple[str, ...] = ()  # origins whose pages may call the API from a browser (none: only the server's own)

    def __post_init__(self) -> None:
        require_option(bool(self.host), "host", "{name} is empty", "pass e.g. {example}", example="127.0.0.1")
        require_option(0 <= self.port <= 65535, "port", "{name} {value} is outside 0 to 65535",
                       "pass e.g. {example} (0: any free port)", value=self.port, example=8000)
        require_option(self.api_key is None or len(self.api_key) >= 8, "api_key",
                       "{name} is shorter than 8 characters", "pass a longer, random one, e.g. from `openssl rand "
                       "-hex 16`")
        require_option(is_loopback(self.host) or self.api_key is not None, "api_key",
                       f"listening on {self.host} lets other machines use the server, and {{name}} is not set",
                       "pass {name} (clients send it as a Bearer token), or listen on 127.0.0.1")
        check_at_least_one("max_tokens", self.max_tokens, 512)
        require_option(self.max_tokens <= MAX_COMPLETION_TOKENS, "max_tokens", "{name} {value} is over {most}",
                       "pass {most} or less", value=self.max_tokens, most=MAX_COMPLETION_TOKENS)
        check_at_least_one("max_n", self.max_n, 16)
        require_option(self.max_n <= MAX_COMPLETIONS, "max_n", "{name} {value} is over {most}",
                       "pass {most} or less", value=self.max_n, most=MAX_COMPLETIONS)
        check_at_least_one("max_prompt_chars", self.max_prompt_chars, 100_000)
        check_at_least_one("max_request_bytes", self.max_request_bytes, 1_000_000)
        for origin in self.cors:
            require_option(origin == "*" or _ORIGIN.fullmatch(origin) is not None, "cors",
                           "{name} {value} is not an origin", "pass a page's origin, e.g. {example} (no path)",
                           value=repr(origin), example="http://localhost:3000")
        for field, example in (("head_seconds", 10), ("body_seconds", 30), ("grace_seconds", 10)):
            check_positive(field, getattr(self, field), example)

    @property
    def page_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    @property
    def base_url(self) -> str:
        return f"{self.page_url}v1"
