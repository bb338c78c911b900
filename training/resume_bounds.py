"""The one check every trainer makes on `--resume`: its step and time bounds are the run's totals.

A bound the run has already reached would train nothing (or a single step) and stop, which looks
like a crash or a silent no-op; the error names the figure that gives the intended extension.
"""

from __future__ import annotations

from pathlib import Path

from ganstream.training.errors import ConfigError


def check_resume_bounds(
    run_dir: Path | str, done_steps: int, done_seconds: float, steps: int | None, minutes: float | None
) -> None:
    """Raise ConfigError when `steps` or `minutes` (the run's totals; None: not bounded) is already reached."""
    done_minutes = done_seconds / 60.0
    if steps is not None and steps <= done_steps:
        raise ConfigError(
            f"{run_dir} is already at step {done_steps}; --steps is the run's total (e.g. --steps {done_steps + 1000})"
        )
    if minutes is not None and 0 < minutes <= done_minutes:
        raise ConfigError(
            f"{run_dir} has already trained {done_minutes:.1f} minutes; --minutes is the run's total time "
            f"(e.g. --minutes {done_minutes + 30:.0f} for 30 more)"
        )
