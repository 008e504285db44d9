"""`lstmtext serve`: a local HTTP server speaking OpenAI's completions API (and lstmtext's own ranked
completions), batching every client's steps. `create_app` builds the ASGI app; `serve` runs it under uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace

from .. import LanguageModel, load
from ..errors import BadInput, OptionError
from ..options import ServeOptions
from .app import create_app

__all__ = ["create_app", "serve"]


def serve(models: list[str] | None = None, options: ServeOptions | None = None, *,
          on_ready: Callable[[ServeOptions, dict[str, LanguageModel]], None] | None = None,
          log_requests: bool = False, **changes) -> bool:
    """Load `models` (store names or paths; default: the default model) and serve them until Ctrl-C or SIGTERM,
    which lets requests in flight finish (up to `options.grace_seconds`). `on_ready(options, models)` is called once
    loaded, before listening. `changes`: fields of `ServeOptions`. True when every request in flight at the stop
    was answered, False when some were still running after the grace period and were cut off."""
    import uvicorn

    from .protocol import GuardedHttpProtocol

    options = replace(options or ServeOptions(), **changes)
    loaded = _load_all(models or [None])
    listening = _listen(options)
    options = replace(options, port=listening.getsockname()[1])
    config = uvicorn.Config(create_app(loaded, options), log_level="info" if log_requests else "warning",
                            access_log=log_requests, timeout_graceful_shutdown=options.grace_seconds, lifespan="on",
                            http=functools.partial(GuardedHttpProtocol, head_seconds=options.head_seconds))
    if on_ready is not None:
        on_ready(options, loaded)
    sys.setswitchinterval(0.0005)  # the event loop gets the GIL back from the engine's thread sooner
    server = _server_class()(config)
    server.run(sockets=[listening])
    return not server.cut_off


def _server_class():
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, except that Ctrl-C or SIGTERM, once the requests in flight are answered, ends `serve`
        normally instead of being raised again (which would kill the process, or raise KeyboardInterrupt), and
        that it knows whether the grace period ran out (`cut_off`: uvicorn then cancels what still runs)."""

        cut_off = False

        async def shutdown(self, sockets=None) -> None:
            # uvicorn waits 0.1 s, then the grace period, then cancels the request tasks still running: whether
            # there are any is looked at just before (an idle kept-alive connection also runs the clock out).
            looked = asyncio.get_running_loop().call_later(self.config.timeout_graceful_shutdown + 0.09,
                                                           self._note_cut_off)
            try:
                await super().shutdown(sockets)
            finally:
                looked.cancel()

        def _note_cut_off(self) -> None:
            self.cut_off = bool(self.server_state.tasks)

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    return Server


def _listen(options: ServeOptions) -> socket.socket:
    """The server's socket, bound now, so that a busy port is a clear error and port 0 becomes a real one."""
    family = socket.AF_INET6 if ":" in options.host else socket.AF_INET
    try:
        return socket.create_server((options.host, options.port), family=family)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise OptionError("port", "port {value} is in use", "pass another {name}, or 0 for any free one",
                              value=options.port) from None
        raise BadInput(f"cannot listen on {options.host}:{options.port} ({error.strerror or error})",
                       "pass a host name or address of this machine, e.g. 127.0.0.1") from None


def _load_all(names: list[str | None]) -> dict[str, LanguageModel]:
    loaded: dict[str, LanguageModel] = {}
    for name in names:
        model = load(name)
        key = model.path.stem if model.path else "model"
        loaded[key if key not in loaded else f"{key}-{len(loaded)}"] = model
    return loaded
