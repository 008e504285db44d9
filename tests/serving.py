"""A real `lstmtext serve` for the tests: started as a user starts it, on a free port."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx

BANNER = re.compile(r"at (http://\S+/v1)")


class Server:
    def __init__(self, model: Path, home: Path, *extra: str) -> None:
        command = [sys.executable, "-m", "lstmtext", "serve", "--model", str(model), "--port", "0", *extra]
        env = {**os.environ, "LSTMTEXT_HOME": str(home)}
        self.process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
        banner = self.process.stderr.readline()
        match = BANNER.search(banner)
        assert match, banner + self.process.stderr.read()
        self.base_url = match.group(1)
        self.root = self.base_url.removesuffix("/v1")
        self.stderr_lines: list[str] = []
        threading.Thread(target=lambda: self.stderr_lines.extend(self.process.stderr), daemon=True).start()

    def healthy(self) -> bool:
        return httpx.get(f"{self.root}/health", timeout=10).json()["status"] == "ok"

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)

    def stop_cleanly(self) -> None:
        """Stop it, and check that it exited 0 without a traceback on stderr."""
        assert self.stop() == 0
        assert not any("Traceback" in line for line in self.stderr_lines), "".join(self.stderr_lines)
