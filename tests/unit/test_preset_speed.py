"""`python -m ganstream.training.preset_speed`: every preset timed through the runtime's engine."""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="random models are built with torch (the train extra)")

from ganstream.training.preset_speed import format_speeds, main, measure_presets


def test_each_preset_is_timed_and_set_against_wide() -> None:
    rows = measure_presets(["tiny", "wide", "wide4"], precision="fp32", rounds=2, iters=1)
    assert [r.preset for r in rows] == ["tiny", "wide", "wide4"]
    assert all(r.ms > 0 and len(r.round_ms) == 2 for r in rows)
    by = {r.preset: r.params for r in rows}
    assert by["wide4"] > 4 * by["wide"] > 4 * by["tiny"]  # 128 features at a quarter of the resolution
    text = format_speeds(rows, "fp32")
    assert "| wide | " in text and text.count("x |") == 3 and "| 1.00x |" in text


def test_an_unknown_preset_is_refused_by_name() -> None:
    with pytest.raises(SystemExit, match=r"unknown preset.*huge"):
        main(["--presets", "wide,huge", "--precision", "fp32", "--rounds", "1", "--iters", "1"])
