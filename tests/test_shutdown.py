"""Every way the REPL, the language server and the server end — end of input, :quit, SIGTERM, Ctrl-C then end of
input, `exit`, stdin closed mid-request — while a writing session is learning or requests are being answered:
exit 0 and nothing on stderr, every time. A session's worker left inside torch when the interpreter exits used to
abort the process ("terminate called without an active exception", status 134) in about half the runs.

The runs are made by tests/exit_paths.py; `python tests/exit_paths.py MODEL PATH 50` runs any path 50 times."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lstmtext.core.store import ModelStore
from lstmtext.options import TokenizerConfig, TrainConfig

HARNESS = Path(__file__).with_name("exit_paths.py")
# The acceptance's own command (a line, then the end of input) 50 times; each other path 6 times (about 1 s a run).
RUNS = {"repl_end_of_input": 50}


@pytest.fixture(scope="module")
def slow_learner(tmp_path_factory: pytest.TempPathFactory, tiny_corpus: Path) -> Path:
    """A char model wide enough that learning a line takes a while (untrained: only its size matters here)."""
    import lstmtext

    home = tmp_path_factory.mktemp("slow")
    lstmtext.train(tiny_corpus, tokenizer=TokenizerConfig("char"), layers=1, hidden_size=384, out=home / "slow.lstm",
                   training=TrainConfig(seq_len=16, batch_size=2, max_steps=1, precision="fp32"),
                   store=ModelStore(root=home))
    return home / "slow.lstm"


@pytest.mark.parametrize("path", ["repl_end_of_input", "repl_quit", "repl_sigterm", "repl_sigint_then_end",
                                  "lsp_exit", "lsp_stdin_closed", "lsp_sigterm", "serve_sigterm"])
def test_every_exit_is_clean(slow_learner, tmp_path, path):
    done = subprocess.run([sys.executable, str(HARNESS), str(slow_learner), path, str(RUNS.get(path, 6))],
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "LSTMTEXT_HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["failures"] == [], report
