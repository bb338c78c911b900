"""A shortened soak run: camera restarts every few seconds, memory must stay flat."""

from __future__ import annotations

from ganstream.stream.bench_soak import soak


def test_memory_stays_flat_across_reconnects() -> None:
    r = soak(seconds=20, restart_every=5, sample_every=0.5, warmup_s=6)
    assert r.reconnects >= 2 and r.frames_out > 50
    # Bound: a leak of one decoded 160x96 frame per frame in would add ~10 MiB here.
    assert r.growth_mib < 8.0, r.samples
