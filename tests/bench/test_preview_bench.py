"""The preview benchmark's machinery, briefly (the figures come from `python -m ganstream.stream.service.web.bench`)."""

from __future__ import annotations

from ganstream.stream.service.web.bench import bench_previews, cpu_model, format_phases


def test_bench_previews_measures_none_one_and_eight_viewers() -> None:
    phases = bench_previews(seconds=1.0, cameras=2, width=320, height=180)
    assert [p.viewers for p in phases] == [0, 1, 8, 0]
    none, one, eight, again = phases
    assert none.jpeg_per_s == again.jpeg_per_s == 0  # no viewer, no encoding
    assert 0 < one.jpeg_per_s <= 12 and eight.jpeg_per_s > one.jpeg_per_s  # 1 tap; 4 taps at <= 10/s each
    assert all(p.cpu_percent > 0 and p.camera_fps > 15 for p in phases)
    table = format_phases(phases)
    assert table.count("\n") == 4 and "vs none" in table and cpu_model()
