"""When a stream's memory must be dropped (a recurrent model's, a temporal filter's), and that state.

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
`StreamBlend` keeps a restore stage's temporal filter of its input frames (``engines.temporal_blend``)
under the same rules (`Continuity`): after a reset the model sees the frame as it came.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from ganstream.engines.recurrence import Recurrence, RecurrenceSpec
from ganstream.stream.frame import Frame, Pixels
from ganstream.stream.stages.interp_rules import is_scene_cut, thumbnail

if TYPE_CHECKING:
    from ganstream.engines.flow import Flow, FlowOptions
    from ganstream.engines.temporal_blend import BlendOptions

MAX_SEQ_GAP = 2  # one dropped frame is a small motion for the flow; more and the memory is dropped
MAX_TIME_GAP_FRAMES = 4.0


class Continuity:
    """Whether a frame continues the stream of the frame before it (the reset rules above)."""

    def __init__(self) -> None:
        self._thumb: np.ndarray | None = None
        self._seq: int | None = None
        self._pts: int | None = None

    def forget(self) -> None:
        self._thumb = self._seq = self._pts = None

    def why_not(self, frame: Frame) -> str | None:
        """Why `frame` does not continue the previous one (None: it does, or there was none);
        remembers `frame` for the next call."""
        thumb = thumbnail(frame.pixels)
        why = None if self._thumb is None else self._break(frame, thumb)
        self._thumb, self._seq, self._pts = thumb, frame.seq, frame.pts
        return why

    def check(self, frame: Frame, has_state: bool, reset: Callable[[str], None]) -> None:
        """`reset(reason)` when `frame` breaks the stream and there is state to drop (the reset
        forgets the frames before); `frame` then starts the new stretch."""
        why = self.why_not(frame)
        if why is not None and has_state:
            reset(why)
            self.why_not(frame)

    def _break(self, frame: Frame, thumb: np.ndarray) -> str | None:
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


class StreamMemory:
    """The recurrence of one stream plus the rules that reset it."""

    def __init__(self, spec: RecurrenceSpec) -> None:
        self.recurrence = Recurrence(spec)
        self.reasons: Counter[str] = Counter()
        self._continuity = Continuity()

    def reset(self, reason: str = "size change") -> None:
        if self.recurrence.has_state:
            self.reasons[reason] += 1
        self.recurrence.reset()
        self._continuity.forget()

    def previous_for(self, frame: Frame, flow: Flow | None = None) -> Pixels:
        """The model's state input for `frame`, after any reset the frame calls for; `flow` (the
        temporal filter's, same options) spares computing it again."""
        self._continuity.check(frame, self.recurrence.has_state, self.reset)
        return self.recurrence.previous_for(frame.pixels, flow)

    def update(self, output: Pixels) -> None:
        """The model's raw output for the frame `previous_for` was last called with."""
        self.recurrence.update(output)

    def report(self) -> str:
        """Resets by reason, for the run summary ("2 scene cut, 1 reconnect"; "none")."""
        return report(self.reasons)


def report(reasons: Counter[str]) -> str:
    """Resets by reason, for the run summary ("2 scene cut, 1 reconnect"; "none")."""
    return ", ".join(f"{n} {why}" for why, n in sorted(reasons.items())) or "none"


class StreamBlend:
    """The temporal filter of one stream's input frames before a restore model (``engines.temporal_blend``:
    each frame averaged with the previous ones along the flow where they agree, a camera's 3DNR),
    with the same reset rules as a recurrent model's memory: the average restarts at cuts,
    reconnects, gaps and size changes. `flow`: the flow options (a recurrent model's own, so that
    its memory can reuse the filter's flow: `last_flow`)."""

    def __init__(self, options: BlendOptions | None = None, flow: FlowOptions | None = None) -> None:
        from ganstream.engines.temporal_blend import TemporalBlend

        self.blend = TemporalBlend(options, flow)
        self.reasons: Counter[str] = Counter()
        self._continuity = Continuity()

    def reset(self, reason: str = "size change") -> None:
        if self.blend.has_state:
            self.reasons[reason] += 1
        self.blend.reset()
        self._continuity.forget()

    def filter(self, frame: Frame) -> Frame:
        """`frame` with its pixels averaged with the stream's previous frames where they agree."""
        self._continuity.check(frame, self.blend.has_state, self.reset)
        pixels = self.blend.apply(frame.pixels, frame.pixels)
        return frame if pixels is frame.pixels else frame.with_pixels(pixels)

    @property
    def last_flow(self) -> Flow | None:
        """The flow the last `filter` computed on the raw frames (None: none, e.g. clean input)."""
        return self.blend.last_flow

    def summary(self) -> str:
        o = self.blend.options
        thr = self.blend.threshold
        return (
            f"  temporal filter: input averaged along the flow where within {thr * (1 - o.soft):.1f} levels, "
            f"less up to {thr * (1 + o.soft):.1f} (noise sigma {self.blend.sigma:.1f}; "
            f"up to {o.cap:g} previous frames, "
            f"{max(self.blend.held - 1, 0):.1f} on the last frame), resets: {report(self.reasons)}"
        )
