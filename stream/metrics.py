"""Prometheus metrics and the JSON health endpoint on one small HTTP server.

Metrics are read at scrape time from the objects the runtime already keeps (`RunStats`,
`SourceHealth`), so the frame path pays nothing for them. Each source is labelled with its
camera name (redacted), so one registry serves any number of cameras.

    GET /metrics  Prometheus text format
    GET /health   JSON: process state and one entry per source (200 when healthy, else 503)
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from ganstream.stream.errors import ConfigError
from ganstream.stream.health import ProcessHealth, SourceState

log = logging.getLogger(__name__)

LOOPBACK = ("127.0.0.1", "::1", "localhost")


class RuntimeCollector(Collector):
    """Builds the metric families from every source of a `ProcessHealth` on each scrape."""

    def __init__(self, health: ProcessHealth) -> None:
        self.health = health

    def collect(self) -> Iterator[Any]:
        L = ["camera"]
        frames_in = CounterMetricFamily("ganstream_frames_in", "Frames decoded from the source", labels=L)
        frames_out = CounterMetricFamily("ganstream_frames_out", "Frames written to the sink", labels=L)
        drops = CounterMetricFamily("ganstream_frames_dropped", "Frames dropped to keep up (realtime)", labels=L)
        reconnects = CounterMetricFamily("ganstream_reconnects", "Source reconnection attempts", labels=L)
        stalls = CounterMetricFamily("ganstream_stalls", "Times the source went silent", labels=L)
        dec_err = CounterMetricFamily("ganstream_decoder_errors", "Decoder errors (stream continued)", labels=L)
        stage_s = CounterMetricFamily("ganstream_stage_seconds", "Time spent in each stage", labels=[*L, "stage"])
        stage_n = CounterMetricFamily("ganstream_stage_calls", "Frames through each stage", labels=[*L, "stage"])
        latency = GaugeMetricFamily(
            "ganstream_added_latency_seconds", "Latency added by ganstream (recent frames)", labels=[*L, "quantile"]
        )
        state = GaugeMetricFamily("ganstream_source_state", "1 for the source's current state", labels=[*L, "state"])
        for src in self.health.sources.values():
            cam, st = src.name, src.stats
            frames_in.add_metric([cam], st.frames_in)
            frames_out.add_metric([cam], st.frames_out)
            drops.add_metric([cam], st.dropped)
            reconnects.add_metric([cam], src.reconnects)
            stalls.add_metric([cam], src.stalls)
            dec_err.add_metric([cam], src.decoder_errors)
            for stage, ms in st.stage_ms().items():
                calls = st.stage_calls.get(stage, 0)
                stage_s.add_metric([cam, stage], ms * calls / 1000.0)
                stage_n.add_metric([cam, stage], calls)
            for q in (50, 95):
                value = st.latency_ms(q)
                if value is not None:
                    latency.add_metric([cam, f"0.{q}"], value / 1000.0)
            for s in SourceState:
                state.add_metric([cam, s.value], 1.0 if src.state == s else 0.0)
        up = GaugeMetricFamily("ganstream_up", "1 while the process is running")
        up.add_metric([], 1.0 if self.health.state == "running" else 0.0)
        yield from (frames_in, frames_out, drops, reconnects, stalls, dec_err, stage_s, stage_n, latency, state, up)


def make_registry(health: ProcessHealth) -> CollectorRegistry:
    """A registry of its own (never the global default) holding the runtime's metrics."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(RuntimeCollector(health))
    return registry


class StatusServer:
    """GET /metrics and /health on a background thread; 127.0.0.1 unless asked otherwise."""

    def __init__(self, health: ProcessHealth, host: str = "127.0.0.1", port: int = 9108) -> None:
        if not 0 <= port <= 65535:
            raise ConfigError(f"metrics port must be 0..65535, got {port}")
        self.health = health
        self.registry = make_registry(health)
        self.host = host
        self.requested_port = port
        self.port = port
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> int:
        """Start listening; returns the bound port (port 0 asks the OS for one)."""
        handler = _handler_for(self)
        try:
            self._httpd = ThreadingHTTPServer((self.host, self.requested_port), handler)
        except OSError as exc:
            raise ConfigError(f"metrics endpoint cannot listen on {self.host}:{self.requested_port} ({exc})") from None
        self._httpd.daemon_threads = True
        self.port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="ganstream-metrics", daemon=True)
        self._thread.start()
        if self.host not in LOOPBACK:
            log.warning("metrics and health endpoint exposed on %s:%d (not loopback)", self.host, self.port)
        log.info("metrics at http://%s:%d/metrics, health at /health", self.host, self.port)
        return self.port

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=2)


def _handler_for(server: StatusServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, CONTENT_TYPE_LATEST, generate_latest(server.registry))
            elif path in ("/health", "/healthz", "/status"):
                code = 200 if server.health.healthy else 503
                body = json.dumps(server.health.as_dict(), indent=2).encode() + b"\n"
                self._send(code, "application/json", body)
            else:
                self._send(404, "text/plain; charset=utf-8", b"not found: try /metrics or /health\n")

        def _send(self, code: int, ctype: str, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("http: " + format, *args)

    return Handler
