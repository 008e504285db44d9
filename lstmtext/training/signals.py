"""Stopping a long job cleanly: the first Ctrl-C (SIGINT) or SIGTERM asks it to stop at the next safe point;
a second Ctrl-C stops at once (KeyboardInterrupt), a second SIGTERM terminates. Handlers are installed only
for the duration of the job, and only in the main thread (the only one that receives signals).
"""

from __future__ import annotations

import signal
import threading

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    def __init__(self) -> None:
        self._received = False
        self._previous: dict[int, object] = {}

    def received(self) -> bool:
        return self._received

    def _on_signal(self, number: int, frame) -> None:
        self._received = True
        # The next one of the same kind acts at once, the way it would without us.
        signal.signal(number, signal.default_int_handler if number == signal.SIGINT else signal.SIG_DFL)

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for number in _SIGNALS:
                self._previous[number] = signal.signal(number, self._on_signal)
        return self

    def __exit__(self, *exc: object) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
