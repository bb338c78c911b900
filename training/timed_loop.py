"""The loop of a training run bounded by steps and time (`--steps`, `--minutes`), shared by
`train interp` and `train recurrent`: the run's progress, one step at a time under the time bar,
and a checkpoint every `val_every_s` seconds and at the end. A resumed run goes on from its own
step and seconds."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Protocol

from ganstream.training.time_bar import TimeBar


class RunState(Protocol):
    step: int
    seconds: float
    best_psnr: float


def cosine_lr(peak: float, progress: float) -> float:
    """The learning rate at `progress` (0..1 of the run) of a cosine decay from `peak` to 0."""
    return peak * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def timed_loop(
    state: RunState,
    *,
    steps: int,
    minutes: float,
    val_every_s: float,
    desc: str,
    step: Callable[[float], float],
    checkpoint: Callable[[float], None],
) -> None:
    """`step(progress)` (it returns the loss) until `state.step` reaches `steps` or the run's time
    `minutes`; progress is the larger of the two shares. `checkpoint(loss)` every `val_every_s`
    seconds and once at the end, also when the loop ran no step."""
    budget = minutes * 60.0
    start, last_val = time.monotonic() - state.seconds, time.monotonic()
    loss = float("nan")
    bar = TimeBar(budget, state.seconds, desc)
    try:
        while state.step < steps and time.monotonic() - start < budget:
            loss = step(max(state.step / steps, (time.monotonic() - start) / budget))
            state.step += 1
            state.seconds = time.monotonic() - start
            bar.advance(state.seconds, state.step, loss=f"{loss:.4f}", best=f"{state.best_psnr:.2f}")
            if time.monotonic() - last_val >= val_every_s:
                checkpoint(loss)
                last_val = time.monotonic()
        checkpoint(loss)
    finally:
        bar.close()
