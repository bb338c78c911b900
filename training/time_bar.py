"""A progress bar for training runs bounded by time (`--minutes`): the bar counts the run's
seconds, its step and figures go beside it, and validation lines print above it."""

from __future__ import annotations

from typing import Any

from tqdm import tqdm


class TimeBar:
    """tqdm over a run's time budget, starting where a resumed run stands."""

    def __init__(self, budget_s: float, done_s: float, desc: str) -> None:
        total = round(budget_s)
        self._bar = tqdm(total=total, initial=min(round(done_s), total), unit="s", desc=desc, dynamic_ncols=True)

    def advance(self, seconds: float, step: int, **figures: Any) -> None:
        """The run is `seconds` into its budget at `step`; figures are refreshed every 20 steps."""
        bar = self._bar
        bar.update(min(round(seconds), bar.total) - bar.n)
        if step % 20 == 0:
            bar.set_postfix(step=step, **figures)

    @staticmethod
    def write(line: str) -> None:
        """A line above the bar (a validation), on stdout."""
        tqdm.write(line)

    def close(self) -> None:
        self._bar.close()
