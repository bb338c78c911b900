"""Prometheus metrics of the service: the runtime's per-camera metrics plus the shared engines'.

Per camera, the runtime's `RuntimeCollector` (``ganstream.stream.metrics``) over the cameras'
`SourceHealth` records: frames in/out, drops, reconnects, stalls, decoder errors, per-stage
time, added latency, state, all labelled ``camera``. The service adds each camera's current
frame rate and, per shared engine, frames, batches, batch fill, inference and batch-wait time.
Everything is read at scrape time, from a registry of the service's own (no global state).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from ganstream.stream.metrics import RuntimeCollector


class ServiceCollector(Collector):
    def __init__(self, service: Any) -> None:
        self.service = service

    def collect(self) -> Iterator[Any]:
        fps = GaugeMetricFamily("ganstream_camera_fps", "Output frames per second over the last 5 s", labels=["camera"])
        for cam in list(self.service.cameras.values()):
            fps.add_metric([cam.name], cam.fps())
        yield fps

        e_frames = CounterMetricFamily("ganstream_engine_frames", "Frames run by the shared engine", labels=["engine"])
        e_batches = CounterMetricFamily("ganstream_engine_batches", "Engine calls (batches)", labels=["engine"])
        e_fill = GaugeMetricFamily("ganstream_engine_batch_fill", "Mean batch size / max batch", labels=["engine"])
        e_infer = CounterMetricFamily("ganstream_engine_infer_seconds", "Time spent in engine calls", labels=["engine"])
        e_wait = CounterMetricFamily(
            "ganstream_engine_batch_wait_seconds", "Time first frames waited for a batch", labels=["engine"]
        )
        for e in self.service.pool.engines():
            f = e.figures
            e_frames.add_metric([e.name], f.frames)
            e_batches.add_metric([e.name], f.batches)
            e_fill.add_metric([e.name], f.mean_batch / e.max_batch if f.batches else 0.0)
            e_infer.add_metric([e.name], f.infer_seconds)
            e_wait.add_metric([e.name], f.wait_seconds)
        yield from (e_frames, e_batches, e_fill, e_infer, e_wait)


def make_registry(service: Any) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RuntimeCollector(service.health))
    registry.register(ServiceCollector(service))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
