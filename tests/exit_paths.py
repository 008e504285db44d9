"""Run by test_shutdown.py (and by hand): each way a long-running command can end, many times over, while its
model is learning or answering. Each run is a process of its own, forked from this one once torch and lstmtext
are imported, so that a run costs the command's work and not Python's start; it ends through the interpreter's
own shutdown, as `lstmtext` does. A run passes when it exits 0 and writes nothing on stderr (serve: nothing but
its two lines).

    python tests/exit_paths.py MODEL PATH RUNS   →   one JSON line: {"path", "runs", "failures": [...]}
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import sys
import threading
import time

# What a run writes: a line long enough that learning it takes a while, so that every exit comes mid-learning.
LINE = "When there is fire, there is smoke, and the old mill by the river " * 3 + "When there is fi"
SHORT = ":max-tokens 3\n"  # the REPL's completions of LINE, kept short: the learning is what the runs are about
_PATIENCE_S = 60
_AT_ONCE = 2  # runs side by side: a process's exit takes most of a run, on one core


class Child:
    """A forked `lstmtext ARGS` with pipes for stdin, stdout and stderr, its output gathered as it comes."""

    def __init__(self, args: list[str]) -> None:
        pipes = [os.pipe() for _ in range(3)]
        sys.stdout.flush()
        sys.stderr.flush()
        self.pid = os.fork()
        if self.pid == 0:
            _become(args, pipes)
        os.close(pipes[0][0])
        os.close(pipes[1][1])
        os.close(pipes[2][1])
        self.stdin = os.fdopen(pipes[0][1], "wb")
        self.out, self.err = bytearray(), bytearray()
        self._readers = [threading.Thread(target=_gather, args=(fd, into), daemon=True)
                         for fd, into in ((pipes[1][0], self.out), (pipes[2][0], self.err))]
        for reader in self._readers:
            reader.start()

    def write(self, data: bytes) -> None:
        self.stdin.write(data)
        self.stdin.flush()

    def close_stdin(self) -> None:
        if not self.stdin.closed:
            self.stdin.close()

    def wait_for(self, text: bytes, *, stream: str = "out") -> None:
        gathered = self.out if stream == "out" else self.err
        deadline = time.monotonic() + _PATIENCE_S
        while text not in gathered:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{text!r} never came on std{stream}")
            time.sleep(0.01)

    def finish(self) -> tuple[int, str]:
        """Its exit status (128 + N when signal N ended it, -1 when it hung) and what it wrote on stderr."""
        self.close_stdin()
        deadline = time.monotonic() + _PATIENCE_S
        while (ended := os.waitpid(self.pid, os.WNOHANG))[0] == 0:
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
                return -1, self.err.decode(errors="replace")
            time.sleep(0.01)
        for reader in self._readers:
            reader.join(5)
        status = ended[1]
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
        return code, self.err.decode(errors="replace")


def _become(args: list[str], pipes: list[tuple[int, int]]) -> None:
    """In the child: stdio on the pipes, then the command, ended by its own SystemExit (no finally of ours)."""
    for target, (read_end, write_end) in enumerate(pipes):
        os.dup2(read_end if target == 0 else write_end, target)
    os.closerange(3, os.sysconf("SC_OPEN_MAX"))  # the other runs' pipes too: a run's stdin must be able to end
    sys.argv = ["lstmtext", *args]
    from lstmtext.cli import main

    main()
    sys.exit(0)


def _gather(fd: int, into: bytearray) -> None:
    while chunk := os.read(fd, 65536):
        into.extend(chunk)
    os.close(fd)


# --- the ways each command ends ----------------------------------------------------------------------------------

def repl_end_of_input(model: str) -> Child:
    child = Child(["repl", "--model", model])
    child.write(f"{SHORT}{LINE}\n".encode())
    return child


def repl_quit(model: str) -> Child:
    child = Child(["repl", "--model", model])
    child.write(f"{SHORT}{LINE}\n:quit\n".encode())
    return child


def repl_sigterm(model: str) -> Child:
    child = Child(["repl", "--model", model])
    child.wait_for(b"lstmtext repl")
    child.write(f"{SHORT}{LINE}\n".encode())
    child.wait_for(b"\n  1 ")  # its first completion is shown; the line is being learned
    os.kill(child.pid, signal.SIGTERM)
    return child


def repl_sigint_then_end(model: str) -> Child:
    child = Child(["repl", "--model", model])
    child.wait_for(b"lstmtext repl")
    child.write(f"{SHORT}{LINE}\n".encode())
    child.wait_for(b"\n  1 ")
    os.kill(child.pid, signal.SIGINT)  # Ctrl-C clears the line; then Ctrl-D
    return child


def _lsp_started(model: str) -> Child:
    child = Child(["lsp", "--model", model])
    _frame(child, {"id": 1, "method": "initialize", "params": {"capabilities": {}, "initializationOptions": {
        "adapt": True, "budgetMs": 20_000}}})
    child.wait_for(b'"capabilities"')
    uri = "file:///notes/letter.txt"
    _frame(child, {"method": "textDocument/didOpen", "params": {"textDocument": {
        "uri": uri, "languageId": "plaintext", "version": 1, "text": ""}}})
    _frame(child, {"method": "textDocument/didChange", "params": {
        "textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": LINE + "\n" + LINE}]}})
    _frame(child, {"id": 2, "method": "textDocument/inlineCompletion", "params": {
        "textDocument": {"uri": uri}, "position": {"line": 1, "character": len(LINE)}, "context": {"triggerKind": 1}}})
    return child


def lsp_exit(model: str) -> Child:
    child = _lsp_started(model)
    _frame(child, {"id": 3, "method": "shutdown"})
    _frame(child, {"method": "exit"})
    return child


def lsp_stdin_closed(model: str) -> Child:
    return _lsp_started(model)  # stdin is closed mid-request


def lsp_sigterm(model: str) -> Child:
    child = _lsp_started(model)
    os.kill(child.pid, signal.SIGTERM)
    return child


def _frame(child: Child, message: dict) -> None:
    body = json.dumps({"jsonrpc": "2.0", **message}).encode()
    child.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))


def serve_sigterm(model: str) -> Child:
    child = Child(["serve", "--model", model, "--port", "0"])
    child.wait_for(b" at http://", stream="err")
    port = int(child.err.split(b" at http://")[1].split(b"/")[0].rsplit(b":", 1)[1].split()[0])
    started = threading.Barrier(3)
    for _ in range(2):
        threading.Thread(target=_stream_completion, args=(port, started), daemon=True).start()
    started.wait(_PATIENCE_S)
    time.sleep(0.05)
    os.kill(child.pid, signal.SIGTERM)
    return child


def _stream_completion(port: int, started: threading.Barrier) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=_PATIENCE_S)
    connection.request("POST", "/v1/completions", json.dumps(
        {"prompt": LINE, "max_tokens": 2000, "stream": True}), {"Content-Type": "application/json"})
    response = connection.getresponse()
    response.read1(1)
    started.wait(_PATIENCE_S)
    try:
        while response.read1(65536):
            pass
    except OSError:
        pass


PATHS = {name: function for name, function in globals().items() if callable(function) and
         name.startswith(("repl_", "lsp_", "serve_")) and not name.startswith("_")}


def unexpected(path: str, stderr: str) -> str:
    """What a run wrote on stderr that it should not have: serve says where it listens and that it stopped."""
    if path.startswith("serve_"):
        return "\n".join(line for line in stderr.splitlines() if not line.startswith(("serving ", "stopped")))
    return stderr


def main(model: str, path: str, runs: int) -> None:
    os.environ["OMP_NUM_THREADS"] = "1"  # one core a run, two runs at once
    # Imported once, here: each run starts from a copy of this process.
    import lstmtext.cli.repl  # noqa: F401
    import lstmtext.cli.terminal  # noqa: F401
    import lstmtext.lsp.server  # noqa: F401
    import lstmtext.server  # noqa: F401

    failures = []
    for done in range(0, runs, _AT_ONCE):
        children = [PATHS[path](model) for _ in range(min(_AT_ONCE, runs - done))]
        for child in children:
            code, stderr = child.finish()
            if code != 0 or unexpected(path, stderr):
                failures.append({"exit": code, "stderr": stderr[-2000:]})
    print(json.dumps({"path": path, "runs": runs, "failures": failures}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
