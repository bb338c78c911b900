"""The shared loop of the time-bounded trainers (`train interp`, `train recurrent`)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import pytest

from ganstream.training.timed_loop import cosine_lr, timed_loop


@dataclass
class State:
    step: int = 0
    seconds: float = 0.0
    best_psnr: float = float("-inf")


def test_the_loop_stops_at_the_step_bound_and_checkpoints_at_the_end(capsys: pytest.CaptureFixture[str]) -> None:
    st, seen, saved = State(), [], []

    def step(p: float) -> float:
        seen.append(p)
        return 0.5

    timed_loop(st, steps=5, minutes=10.0, val_every_s=3600.0, desc="run", step=step, checkpoint=saved.append)
    assert st.step == 5 and seen == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8], abs=1e-3)
    assert saved == [0.5] and st.seconds > 0
    assert "run" in capsys.readouterr().err  # the time bar


def test_the_loop_stops_at_the_time_bound_and_validates_on_its_clock() -> None:
    st, saved = State(), []

    def step(progress: float) -> float:
        time.sleep(0.01)
        return 0.1

    timed_loop(st, steps=10**9, minutes=0.005, val_every_s=0.06, desc="run", step=step, checkpoint=saved.append)
    assert st.seconds >= 0.3 and 1 <= st.step <= 30  # each step sleeps 10 ms
    assert 2 <= len(saved) <= st.step + 1  # on the clock (about every 0.06 s), then the final one


def test_a_resumed_run_goes_on_from_its_own_step_and_time() -> None:
    progress: list[float] = []
    saved: list[float] = []

    def step(p: float) -> float:
        progress.append(p)
        return 0.0

    # its time already spent: no step, one checkpoint (with no loss to report)
    st = State(step=4, seconds=1e6)
    timed_loop(st, steps=8, minutes=1.0, val_every_s=1.0, desc="run", step=step, checkpoint=saved.append)
    assert st.step == 4 and not progress and len(saved) == 1 and math.isnan(saved[0])
    st = State(step=4)
    timed_loop(st, steps=8, minutes=60.0, val_every_s=3600.0, desc="run", step=step, checkpoint=saved.append)
    assert st.step == 8 and progress[0] == pytest.approx(0.5, abs=1e-3)


def test_cosine_lr_falls_from_the_peak_to_zero_and_stays_there() -> None:
    assert cosine_lr(2e-4, 0.0) == 2e-4
    assert cosine_lr(2e-4, 0.5) == pytest.approx(1e-4)
    assert cosine_lr(2e-4, 1.0) == pytest.approx(0.0) == cosine_lr(2e-4, 1.7)
