"""The choice rule's table: a candidate passes only with a higher mean and no more items worse than better."""

from __future__ import annotations

from ganstream.training.eval_compare import head_to_head, head_to_head_markdown
from ganstream.training.evaluate import BASELINE_METHODS, Row


def _row(method: str, per_clip: dict[str, float], dataset: str = "clean (area)") -> Row:
    mean = sum(per_clip.values()) / len(per_clip)
    return Row("sr x2", dataset, method, mean, 0.9, 1.0, 1.0, per_clip=per_clip)


SHIPPED = {"cup": 40.0, "vtest": 35.0, "Wine": 38.0, "building": 33.0, "fruits": 36.0}


def test_a_mean_carried_by_one_item_fails_the_rule() -> None:
    # one clip +1.0 dB, three items -0.1: the mean rises, most items get worse
    lopsided = {"cup": 41.0, "vtest": 35.0, "Wine": 37.9, "building": 32.9, "fruits": 35.9}
    rows = [_row("bicubic", {k: v - 2 for k, v in SHIPPED.items()}), _row("sr2x", SHIPPED), _row("cand", lopsided)]
    (p,) = head_to_head(rows, BASELINE_METHODS)
    assert (p.incumbent, p.candidate) == ("sr2x", "cand"), "baselines are never the incumbent"
    assert p.mean_db > 0 and (p.better, p.worse, p.items) == (1, 3, 5)
    assert (p.worst_item, round(p.worst_db, 2)) == ("Wine", -0.1)
    assert not p.passes


def test_a_broad_gain_passes_and_ties_do_not_count() -> None:
    broad = {k: v + 0.05 for k, v in SHIPPED.items()} | {"fruits": 36.005}  # fruits: a tie
    (p,) = head_to_head([_row("sr2x", SHIPPED), _row("cand", broad)], BASELINE_METHODS)
    assert (p.better, p.worse) == (4, 0) and p.passes
    lower = {k: v - 0.05 for k, v in SHIPPED.items()}
    (q,) = head_to_head([_row("sr2x", SHIPPED), _row("cand", lower)], BASELINE_METHODS)
    assert not q.passes


def test_every_input_gets_its_own_line_and_a_lone_model_none() -> None:
    rows = [_row("sr2x", SHIPPED), _row("cand", SHIPPED)]
    rows += [_row("sr2x", SHIPPED, "H.264 CRF 30"), _row("cand", SHIPPED, "H.264 CRF 30")]
    rows += [_row("sr2x", SHIPPED, "clean (bicubic)")]
    lines = head_to_head_markdown(rows, BASELINE_METHODS)
    body = [ln for ln in lines if ln.startswith("| sr x2")]
    assert [ln.split(" | ")[1] for ln in body] == ["clean (area)", "H.264 CRF 30"]
    assert all(ln.endswith("| fails |") for ln in body), "equal everywhere: the mean did not rise"
    assert head_to_head_markdown([_row("sr2x", SHIPPED)], BASELINE_METHODS) == []


def test_the_interpolation_report_judges_later_models_against_the_first() -> None:
    from ganstream.training.interp.evaluate import format_report

    method = {"psnr_y_db": 38.0, "ssim_y": 0.97, "ms_per_frame": 10.0, "frames": 4}
    result = {
        "methods": {"flow": method, "interp": method, "blend": method},
        "clips": [
            {"clip": "vtest", "size": "64x48", "frames": 2, "flow": 33.0, "interp": 33.3, "blend": 30.0},
            {"clip": "cup", "size": "64x48", "frames": 2, "flow": 41.5, "interp": 41.4, "blend": 36.0},
        ],
        "ratios": {},
        "stride": 1,
    }
    (line,) = [ln for ln in format_report(result).splitlines() if ln.startswith("| interp | stride 1 | interp")]
    assert "| flow | +0.100 | 1 | 1 | 2 | -0.10 (cup) | passes |" in line
    assert "| blend |" not in format_report(result).split("Against the first model")[1], "baselines are not judged"
