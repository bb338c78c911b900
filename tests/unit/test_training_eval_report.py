"""The eval report: the restore speed target is read off a ratio against nlmeans in the same run."""

from __future__ import annotations

from ganstream.training.evaluate import Row, format_markdown


def test_report_gives_each_method_speed_against_nlmeans() -> None:
    rows = [Row("restore", "noise sigma 15", "restore", 33.0, 0.9, 5.0, 10.0, 0.5)]
    timing = {"hqdn3d": 50.0, "nlmeans s=7": 400.0, "restore": 25.0}
    text = format_markdown(rows, timing, {"restore": "openvino bf16"})
    assert "| restore | noise sigma 15 | restore | 33.00 | +0.50 |" in text
    assert "restore: openvino bf16" in text
    assert "restore 16.0x" in text and "hqdn3d 8.0x" in text


def test_report_without_nlmeans_has_no_speed_line() -> None:
    text = format_markdown([], {"sr2x (640x360 out)": 30.0}, {"sr2x": "openvino fp32"})
    assert "Speed against nlmeans" not in text and "| sr2x (640x360 out) | 30.0 |" in text
