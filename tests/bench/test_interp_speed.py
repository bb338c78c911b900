"""`ganstream bench interp`: our interpolators against ffmpeg minterpolate in the same run, a few
small frames. Asserts what the table reports (ratios per round, the floor column), never a time."""

from __future__ import annotations

import pytest

from ganstream.engines.calib import default_clip
from ganstream.stream.cli import main
from ganstream.training.errors import ConfigError
from ganstream.training.interp.speed import FLOOR, bench_interp, clip_frames, format_results, parse_methods, parse_size


def test_each_method_gets_a_ratio_per_round_against_minterpolate() -> None:
    clip = default_clip()
    if clip is None:
        pytest.skip("the sample clip is not installed")
    frames = clip_frames(clip, (160, 96), 5)
    results = bench_interp(frames, ["flow", "flow-refined"], rounds=2)
    assert [r.name for r in results] == ["flow", "flow-refined", "minterpolate"]
    for r in results:
        assert len(r.ms) == 2 and all(ms > 0 for ms in r.ms) and len(r.ratios) == 2
    table = format_results(results, (160, 96), heap_kept=True)
    flow_row = next(line for line in table.splitlines() if line.startswith("| flow |"))
    assert f"{results[0].ratio:.2f}x" in flow_row
    assert flow_row.endswith("| yes |" if results[0].ratio >= FLOOR else "| no |")
    assert "freed heap pages kept" in table and "160x96" in table


def test_bad_sizes_and_methods_are_refused() -> None:
    assert parse_size("640x360") == (640, 360)
    for bad in ("640", "16x16", "641x360", "axb"):
        with pytest.raises(ConfigError, match="--size"):
            parse_size(bad)
    assert parse_methods("flow, flow:ultrafast:2:0") == ["flow", "flow:ultrafast:2:0"]
    with pytest.raises(ConfigError, match="unknown sr2x"):
        parse_methods("flow,sr2x")


def test_the_command_says_what_is_wrong_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "interp", "--size", "10x10"]) == 2
    assert "--size '10x10'" in capsys.readouterr().err
