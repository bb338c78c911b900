"""`ganstream bench recurrent`: the shipped vrestore against the bare `restore`, a few frames.

Asserts what the table reports (the ratio and one ratio per round), never an absolute time.
"""

from __future__ import annotations

import numpy as np
import pytest

from ganstream.stream.bench_recurrent import NOISE_SIGMA, PairResult, _frames, bench_pair, format_results


def test_the_pair_reports_its_ratio_and_the_spread_of_its_rounds() -> None:
    from ganstream.stream.stage_factory import installed_models

    if not {"restore", "vrestore"} <= set(installed_models()):
        pytest.skip("the shipped restore and vrestore models are not installed")
    rng = np.random.default_rng(0)
    frames = [np.clip(f + rng.normal(0, NOISE_SIGMA, f.shape), 0, 255).astype(np.uint8) for f in _frames(6)]
    result = bench_pair("restore", "vrestore", "auto", frames, rounds=3)
    assert len(result.round_ratios) == 3 and all(r > 0 for r in result.round_ratios)
    assert result.single_ms > 0 and result.recurrent_ms > 0 and result.backend
    row = format_results([result]).splitlines()[-1]
    assert f"{min(result.round_ratios):.2f}x - {max(result.round_ratios):.2f}x" in row


def test_a_result_without_rounds_prints_a_dash() -> None:
    table = format_results([PairResult("restore", "vrestore", 2.0, 3.0, "openvino bf16")])
    assert "| 1.50x | - | yes |" in table.splitlines()[-1]
