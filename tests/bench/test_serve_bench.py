"""The serve benchmark's machinery on a cheap stand-in engine (the figures come from `ganstream bench serve`)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from ganstream.stream.service.bench import HEADER, bench_serve, format_results


class Doubler:
    """A 2x nearest-neighbour 'sr model' in numpy."""

    backend = "numpy"
    precision = "fp32"
    card = SimpleNamespace(name="doubler", task="sr", scale=2, limits=None)

    def infer(self, batch: np.ndarray) -> np.ndarray:
        return batch.repeat(2, axis=1).repeat(2, axis=2)


def test_bench_serve_runs_both_modes_and_reports_a_ratio() -> None:
    results = bench_serve(Doubler(), [2], frames=8, live_seconds=0.5)
    (r,) = results
    assert r.streams == 2 and r.batched_fps > 0 and r.serial_fps > 0 and r.ratio > 0
    assert 1.0 <= r.mean_batch <= 2.0
    assert r.batched_p95_ms > 0 and r.serial_p95_ms > 0
    table = format_results(results)
    assert table.startswith(HEADER) and table.count("\n") == 2
