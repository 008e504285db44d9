"""The server's Prometheus metrics, in a registry of its own (`GET /metrics`)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("lstmtext_requests", "HTTP requests answered", ["endpoint", "status"],
                                registry=self.registry)
        self.latency = Histogram("lstmtext_request_seconds", "Time from request to the last byte of the answer",
                                 ["endpoint"], registry=self.registry,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
        self.tokens = Counter("lstmtext_generated_tokens", "Tokens written in completions", ["model"],
                              registry=self.registry)
        self.batch_rows = Histogram("lstmtext_batch_rows", "Streams stepped together in one model step", ["model"],
                                    registry=self.registry, buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512))
        self.active = Gauge("lstmtext_active_requests", "Requests being stepped now", ["model"],
                            registry=self.registry)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
