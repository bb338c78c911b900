"""A stream's measured strength for a model: how much of its correction the frames say helps.

SR models blend with bicubic (``residual_gain``), restore models with their input
(``restore_strength``); both measure on the stream itself and expose ``observe``, ``apply`` and
``reset``.
"""

from __future__ import annotations

from ganstream.engines.residual_gain import ResidualGain
from ganstream.engines.residual_gain import Runner as SrRunner
from ganstream.engines.restore_strength import RestoreStrength
from ganstream.engines.restore_strength import Runner as RestoreRunner

StreamStrength = ResidualGain | RestoreStrength


def strength_for(task: str, scale: int, run: SrRunner | RestoreRunner) -> StreamStrength | None:
    """The strength for a model of `task` at `scale`, running single frames with `run`; None for
    models it does not apply to (interpolation)."""
    if task == "sr" and scale > 1:
        return ResidualGain(run, scale)
    if task == "restore" and scale == 1:
        return RestoreStrength(run)
    return None
