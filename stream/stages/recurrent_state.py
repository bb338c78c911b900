"""When a recurrent model's memory of one stream must be dropped, and the state it keeps otherwise.

A recurrent model (``vsr2x``, ``vrestore``) feeds its previous output back, moved onto the new
frame by optical flow (``ganstream.engines.recurrence``). That memory is only valid while the
frames are consecutive views of one scene. `StreamMemory` drops it, counting why, at:

- a **scene cut** (the frames' grey thumbnails differ as ``interp_rules.is_scene_cut`` says),
- a **reconnect** or a decoder's discontinuity (the bridge marks the frame ``meta["discont"]``),
- a **gap**: frames missing in between (``seq`` jumps by more than `MAX_SEQ_GAP`, e.g. drops in
  realtime mode) or time jumping by more than `MAX_TIME_GAP_FRAMES` frame durations,
- a **size change** (``reset`` from the stage's ``configure``; the flow could not match anyway).

After a reset the model sees the frame itself as its previous output and behaves as its
single-frame counterpart, so a reset costs quality for a few frames, never a visible artefact.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from ganstream.engines.recurrence import Recurrence, RecurrenceSpec
from ganstream.stream.frame import Frame, Pixels
from ganstream.stream.stages.interp_rules import is_scene_cut, thumbnail

MAX_SEQ_GAP = 2  # one dropped frame is a small motion for the flow; more and the memory is dropped
MAX_TIME_GAP_FRAMES = 4.0


class StreamMemory:
    """The recurrence of one stream plus the rules that reset it."""

    def __init__(self, spec: RecurrenceSpec) -> None:
        self.recurrence = Recurrence(spec)
        self.reasons: Counter[str] = Counter()
        self._thumb: np.ndarray | None = None
        self._seq: int | None = None
        self._pts: int | None = None

    def reset(self, reason: str = "size change") -> None:
        if self.recurrence.has_state:
            self.reasons[reason] += 1
        self.recurrence.reset()
        self._thumb = self._seq = self._pts = None

    def _why_reset(self, frame: Frame, thumb: np.ndarray) -> str | None:
        if not self.recurrence.has_state:
            return None
        if frame.meta.get("discont"):
            return "reconnect"
        # seq that does not move (callers that leave it at 0) says nothing; a jump or going back does
        if self._seq is not None and not -1 < frame.seq - self._seq <= MAX_SEQ_GAP:
            return "gap"
        late = self._pts is not None and frame.pts - self._pts > MAX_TIME_GAP_FRAMES * frame.duration
        if late and frame.duration > 0:
            return "gap"
        if self._thumb is not None and self._thumb.shape == thumb.shape and is_scene_cut(self._thumb, thumb):
            return "scene cut"
        return None

    def previous_for(self, frame: Frame) -> Pixels:
        """The model's state input for `frame`, after any reset the frame calls for."""
        thumb = thumbnail(frame.pixels)
        why = self._why_reset(frame, thumb)
        if why is not None:
            self.reset(why)
        self._thumb, self._seq, self._pts = thumb, frame.seq, frame.pts
        return self.recurrence.previous_for(frame.pixels)

    def update(self, output: Pixels) -> None:
        """The model's raw output for the frame `previous_for` was last called with."""
        self.recurrence.update(output)

    def report(self) -> str:
        """Resets by reason, for the run summary ("2 scene cut, 1 reconnect"; "none")."""
        return ", ".join(f"{n} {why}" for why, n in sorted(self.reasons.items())) or "none"
