"""Prometheus metrics of the service, per camera and per shared engine, read at scrape time.

A collector over the service's live figures (no state of its own, no global registry), so it
is easy to swap for the runtime's per-source metrics module.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

STATUSES = ("starting", "streaming", "stalled", "backoff", "ended", "stopped")


class ServiceCollector(Collector):
    def __init__(self, service: Any) -> None:
        self.service = service

    def collect(self) -> Iterator[Any]:
        cams = self.service.snapshot()
        frames_in = CounterMetricFamily(
            "ganstream_camera_frames_in", "Frames decoded from the source", labels=["camera"]
        )
        frames_out = CounterMetricFamily(
            "ganstream_camera_frames_out", "Frames processed and sent to the outputs", labels=["camera"]
        )
        drops = CounterMetricFamily(
            "ganstream_camera_dropped_frames", "Frames dropped to keep up (realtime)", labels=["camera"]
        )
        restarts = CounterMetricFamily(
            "ganstream_camera_restarts", "Source restarts (reconnections)", labels=["camera"]
        )
        fps = GaugeMetricFamily("ganstream_camera_fps", "Output frames per second over the last 5 s", labels=["camera"])
        lat = GaugeMetricFamily(
            "ganstream_camera_latency_seconds", "Added latency, bridge entry to exit", labels=["camera", "quantile"]
        )
        status = GaugeMetricFamily(
            "ganstream_camera_status", "1 for the camera's current status", labels=["camera", "status"]
        )
        for c in cams:
            name = c["name"]
            frames_in.add_metric([name], c["frames_in"])
            frames_out.add_metric([name], c["frames_out"])
            drops.add_metric([name], c["dropped"])
            restarts.add_metric([name], c["restarts"])
            fps.add_metric([name], c["fps"])
            for q, key in (("0.5", "latency_p50_ms"), ("0.95", "latency_p95_ms")):
                if c[key] is not None:
                    lat.add_metric([name, q], c[key] / 1000.0)
            for s in STATUSES:
                status.add_metric([name, s], 1.0 if c["status"] == s else 0.0)
        yield from (frames_in, frames_out, drops, restarts, fps, lat, status)

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
    registry.register(ServiceCollector(service))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
