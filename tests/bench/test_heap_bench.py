"""`python -m ganstream.stream.bench_heap`: both heap settings measured in fresh processes, a few frames.

Asserts what the table reports and that the kept heap faults in no pages per frame, never a time.
"""

from __future__ import annotations

import platform

import pytest

from ganstream.stream.bench_heap import Measurement, WorkloadResult, bench_heap, format_results, main


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the heap setting is glibc's")
def test_keeping_freed_pages_removes_the_interpolators_page_faults() -> None:
    (result,) = bench_heap(["interpolate"], frames=8, rounds=1)
    default, kept = result.default[0], result.kept[0]
    assert kept.kept and not default.kept
    assert default.ms_per_frame > 0 and kept.ms_per_frame > 0 and result.ratio > 0
    # With glibc's defaults the count depends on which thread's arena frees what (7 to 2,500 per
    # frame from run to run); kept, the frame path faults in no new pages.
    assert kept.faults_per_frame < 50
    table = format_results([result])
    assert f"{result.ratio:.2f}x" in table and "NOT APPLIED" not in table


def test_a_setting_that_did_not_apply_is_named_in_the_table() -> None:
    m = Measurement(10.0, 5.0, 100.0, kept=False)
    table = format_results([WorkloadResult("sr2x", [m], [m])])
    assert "NOT APPLIED" in table and "| 1.00x |" in table


def test_bad_arguments_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--workloads", "nope"], ["--frames", "0"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
    assert "unknown nope" in capsys.readouterr().err
