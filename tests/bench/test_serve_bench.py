"""The serve benchmark's machinery on a cheap stand-in engine (the figures come from `ganstream bench serve`)."""

from __future__ import annotations

import time
from types import SimpleNamespace

import numpy as np

from ganstream.stream.service.bench import (
    HEADER,
    bench_serve,
    bench_serve_models,
    format_models_row,
    format_results,
    models_header,
)


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


class Slow(Doubler):
    """The same model with 60 ms of work per frame: far above what a loaded machine adds to the doubler."""

    card = SimpleNamespace(name="slow", task="sr", scale=2, limits=None)

    def infer(self, batch: np.ndarray) -> np.ndarray:
        time.sleep(0.06 * len(batch))
        return super().infer(batch)


def test_bench_serve_models_compares_throughput_in_one_run() -> None:
    results = bench_serve_models({"doubler": Doubler(), "slow": Slow()}, [1, 2], frames=6, repeats=2)
    assert [r.streams for r in results] == [1, 2]
    for r in results:
        assert list(r.fps) == ["doubler", "slow"]
        assert r.fps["slow"] < r.fps["doubler"]  # the sleep costs frames/s whatever else runs
    header = models_header(["doubler", "slow"])
    assert "slow / doubler" in header
    row = format_models_row(results[0])
    assert row.startswith("| 1 |") and row.count("|") == header.splitlines()[0].count("|")


def test_bench_serve_of_a_per_camera_choice_measures_both_of_its_models(capsys) -> None:  # type: ignore[no-untyped-def]
    """sr2x-auto has no engine of its own: the bench runs its two shipped models, as serve batches them."""
    import pytest

    from ganstream.stream.cli import main

    pytest.importorskip("onnxruntime")
    assert main(["bench", "serve", "--model", "sr2x-auto", "--streams", "1", "--backend", "ort"]) == 0
    out = capsys.readouterr().out
    assert "sr2x-clean for clean input, sr2x for compressed" in out
    assert "| streams | sr2x-clean (fps) | sr2x (fps) | sr2x / sr2x-clean |" in out
    row = next(line for line in out.splitlines() if line.startswith("| 1 |"))
    assert all(float(v) > 0 for v in row.strip("|").split("|")[1:3])
