"""The server under load: `lstmtext serve` started as a user starts it, on 127.0.0.1 only, then driven by an
asyncio client (keep-alive HTTP/1.1 written out by hand, so that the client costs little of the machine's two
cores beside the server it measures).

    python -m bench.load [--model NAME|PATH] [--seconds 10] [--clients 64] [--soak SECONDS]

- throughput: `--clients` concurrent clients, each asking for 20-token completions one after another for
  `--seconds`; completions/s and latency p50/p95, with batching on and then off (`serve --no-batching`);
- streaming: the first token of a streamed completion for a 100-character prompt, on an idle server;
- `--soak`: mixed load (plain, streamed, n=3, ranked, malformed) for that long, the server's memory sampled as it
  goes: errors and resident memory first/last/max. Reported, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

BANNER = re.compile(rb"at http://127\.0\.0\.1:(\d+)/v1")
PROMPTS = ["When there is fi", "The panda", "A friend in need", "Slow and steady", "The early bird catches",
           "Every cloud has", "Actions speak louder"]
PROMPT_100 = ("When there is fire, there is smoke, and the early bird catches the worm while a friend in need is "
              "a fri")[:100]
TARGET_COMPLETIONS_PER_S = 500
TARGET_BATCHING_GAIN = 5.0
TARGET_FIRST_TOKEN_MS = 50.0


class ServerProcess:
    def __init__(self, model: str, *flags: str) -> None:
        command = [sys.executable, "-m", "lstmtext", "serve", "--model", model, "--host", "127.0.0.1",
                   "--port", "0", *flags]
        self.process = subprocess.Popen(command, stderr=subprocess.PIPE)
        banner = self.process.stderr.readline()
        found = BANNER.search(banner)
        if not found:
            self.process.kill()
            raise RuntimeError(f"the server did not start: {banner.decode(errors='replace')}")
        self.port = int(found.group(1))

    def rss_mb(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


class Connection:
    """One keep-alive HTTP/1.1 connection to the server."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    def send(self, path: str, body: bytes) -> None:
        self.writer.write(b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                          b"Content-Length: %d\r\n\r\n%s" % (path.encode(), len(body), body))

    async def answer(self) -> tuple[int, bytes]:
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = re.search(rb"(?i)content-length: (\d+)", head)
        if length:
            return status, await self.reader.readexactly(int(length.group(1)))
        return status, await self._chunked()

    async def _chunked(self) -> bytes:
        parts = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
            parts.append(await self.reader.readexactly(size + 2))
            if size == 0:
                return b"".join(parts)

    async def first_event(self) -> None:
        """Wait until a streamed answer's first text event arrives, then read the rest."""
        await self.reader.readuntil(b"\r\n\r\n")
        await self.reader.readuntil(b'"text": "')
        await self.reader.readuntil(b"0\r\n\r\n")

    def close(self) -> None:
        self.writer.close()


def completion(prompt: str, seed: int, **more) -> bytes:
    return json.dumps({"prompt": prompt, "max_tokens": 20, "seed": seed, **more}).encode()


async def _client(port: int, deadline: float, latencies: list[float], errors: list[int], index: int) -> None:
    connection = await Connection.open(port)
    try:
        asked = 0
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            prompt = PROMPTS[(index + asked) % len(PROMPTS)]
            connection.send("/v1/completions", completion(prompt, index * 7919 + asked))
            status, _ = await connection.answer()
            if status != 200:
                errors.append(status)
            latencies.append(time.perf_counter() - started)
            asked += 1
    finally:
        connection.close()


async def throughput(port: int, clients: int, seconds: float) -> dict:
    latencies, errors = [], []
    started = time.perf_counter()
    await asyncio.gather(*(_client(port, started + seconds, latencies, errors, index) for index in range(clients)))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {"clients": clients, "completions": len(latencies), "seconds": round(elapsed, 2),
            "completions_per_s": round(len(latencies) / elapsed, 1), "errors": len(errors),
            "p50_ms": round(statistics.median(ordered) * 1000, 1),
            "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 1)}


async def first_token_ms(port: int, samples: int = 20) -> dict:
    times = []
    for sample in range(samples + 2):
        connection = await Connection.open(port)
        started = time.perf_counter()
        connection.send("/v1/completions", completion(PROMPT_100, sample, stream=True))
        await connection.first_event()
        if sample >= 2:  # the first two warm the prompt path up
            times.append((time.perf_counter() - started) * 1000)
        connection.close()
    ordered = sorted(times)
    return {"prompt_chars": len(PROMPT_100), "p50_ms": round(statistics.median(ordered), 1),
            "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 1)}


async def soak(server: ServerProcess, seconds: float, clients: int = 16) -> dict:
    kinds = [("/v1/completions", lambda i: completion(PROMPTS[i % 7], i), 200),
             ("/v1/completions", lambda i: completion(PROMPTS[i % 7], i, n=3, stop=["."]), 200),
             ("/v1/complete", lambda i: json.dumps({"prompt": PROMPTS[i % 7], "n": 3}).encode(), 200),
             ("/v1/completions", lambda i: b"{not json", 400),
             ("/v1/completions", lambda i: completion(PROMPTS[i % 7], i, max_tokens=-5), 400)]
    unexpected, rss, done = [], [server.rss_mb()], [0]
    deadline = time.perf_counter() + seconds

    async def mixed(index: int) -> None:
        connection = await Connection.open(server.port)
        asked = 0
        while time.perf_counter() < deadline:
            path, body, expected = kinds[(index + asked) % len(kinds)]
            connection.send(path, body(index * 1000 + asked))
            status, _ = await connection.answer()
            if status != expected:
                unexpected.append(status)
            asked += 1
            done[0] += 1
        connection.close()

    async def sample_memory() -> None:
        while time.perf_counter() < deadline:
            await asyncio.sleep(min(10, seconds / 10))
            rss.append(server.rss_mb())

    await asyncio.gather(sample_memory(), *(mixed(index) for index in range(clients)))
    return {"seconds": seconds, "requests": done[0], "unexpected_statuses": len(unexpected),
            "rss_mb_first": round(rss[0], 1), "rss_mb_last": round(rss[-1], 1), "rss_mb_max": round(max(rss), 1)}


def measure(model: str, seconds: float = 10, clients: int = 64, soak_seconds: float = 0) -> dict:
    figures = {}
    for name, flags in (("batched", ()), ("one_at_a_time", ("--no-batching",))):
        server = ServerProcess(model, *flags)
        try:
            asyncio.run(throughput(server.port, clients, 2))  # warm-up
            figures[name] = asyncio.run(throughput(server.port, clients, seconds))
            if name == "batched":
                figures["first_token"] = asyncio.run(first_token_ms(server.port))
                if soak_seconds:
                    figures["soak"] = asyncio.run(soak(server, soak_seconds))
        finally:
            server.stop()
    figures["batching_gain"] = round(figures["batched"]["completions_per_s"]
                                     / max(figures["one_at_a_time"]["completions_per_s"], 1e-9), 1)
    figures["targets"] = {"completions_per_s": TARGET_COMPLETIONS_PER_S, "batching_gain": TARGET_BATCHING_GAIN,
                          "first_token_ms": TARGET_FIRST_TOKEN_MS}
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="demo", help="model name or path (default: the demo model)")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--soak", type=float, default=0, help="seconds of mixed load (0: none)")
    args = parser.parse_args()
    print(json.dumps(measure(args.model, args.seconds, args.clients, args.soak), indent=2))


if __name__ == "__main__":
    main()
