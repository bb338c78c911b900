"""`EnhanceStage`: one frame in, one frame out, through an engine (sr or restore models)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ganstream.engines.input_choice import InputChoice
from ganstream.engines.recurrence import RecurrenceSpec, initial_previous
from ganstream.engines.restore_strength import RestoreStrength
from ganstream.engines.strength import StreamStrength, strength_for
from ganstream.stream.errors import StageError
from ganstream.stream.frame import Frame, Pixels, VideoSpec
from ganstream.stream.stages.recurrent_state import StreamBlend, StreamMemory


def residual_gain_for(engine: Any, run: Any, enabled: bool) -> StreamStrength | None:
    """A stream's measured strength: over bicubic for an SR engine (``engines.residual_gain``), over
    the input for a restore engine (``engines.restore_strength``); None when disabled."""
    return strength_for(str(engine.card.task), int(engine.card.scale), run) if enabled else None


def single_frame_inputs(engine: Any, pixels: Pixels) -> tuple[Pixels, ...]:
    """A model's inputs for one frame on its own: a recurrent model gets the "nothing known yet" state."""
    spec = RecurrenceSpec.from_card(engine.card)
    x = np.ascontiguousarray(pixels[np.newaxis])
    if spec is None:
        return (x,)
    return x, initial_previous(pixels, spec)[np.newaxis]


def strength_inputs(engine: Any, pixels: Pixels, previous: Pixels | None) -> tuple[Pixels, ...]:
    """A frame's model inputs (batched) as the stream's strength measures the model: single frames
    for SR (run one scale down) and single-frame models; a recurrent restore model with
    `previous`, the memory the frame itself ran with."""
    if previous is None or int(engine.card.scale) != 1:
        return single_frame_inputs(engine, pixels)
    return np.ascontiguousarray(pixels[np.newaxis]), previous[np.newaxis]


def memory_for(engine: Any) -> StreamMemory | None:
    """The per-stream memory of a recurrent model (None for a single-frame one)."""
    spec = RecurrenceSpec.from_card(engine.card)
    return StreamMemory(spec) if spec is not None else None


def blend_for(engine: Any, memory: StreamMemory | None, enabled: bool) -> StreamBlend | None:
    """The per-stream temporal filter of a restore model's input (None for SR or when disabled),
    computing its flow as the recurrent `memory` does, so that the memory reuses it."""
    if not enabled or str(engine.card.task) != "restore" or int(engine.card.scale) != 1:
        return None
    return StreamBlend(flow=memory.recurrence.spec.flow if memory is not None else None)


def memory_summary(memory: StreamMemory | None) -> str:
    if memory is None:
        return ""
    k = memory.recurrence.spec.neighbours
    fed = "previous output" + (f" and {k} previous input frame(s)" if k else "")
    return (
        f"  recurrent: {fed} fed back via DIS flow, causal (no added latency); "
        f"{memory.recurrence.steps} frames used it, resets: {memory.report()}"
    )


def strength_summary(gain: StreamStrength | None) -> str:
    """The run summary's line on the measured strength (empty when none was measured)."""
    if gain is None or gain.estimates == 0:
        return ""
    if isinstance(gain, RestoreStrength):
        return (
            f"  restore strength: {gain.alpha:.2f} "
            f"(measured noise sigma {gain.sigma:.1f} levels, {gain.estimates} estimates)"
        )
    return f"  residual strength over bicubic: {gain.alpha:.2f} ({gain.estimates} estimates)"


class EnhanceStage:
    """Runs an `Engine` (``ganstream.engines``) on every frame.

    SR models keep only as much of their correction over bicubic as the stream's own frames
    say helps (``ganstream.engines.residual_gain``), restore models as much of their correction
    of the input as the frames' measured noise says helps (``ganstream.engines.restore_strength``);
    ``residual_gain=False`` passes the raw output.
    Recurrent models (vsr2x, vrestore) also get their previous output, kept per stream and reset
    at scene cuts, reconnects, gaps and size changes (``recurrent_state``); the SR residual
    strength is measured on single frames, the restore strength with the frame's own memory, and
    the raw output is what is fed back. Restore models get each input frame averaged along the
    flow with the stream's previous ones where they agree, before the network (``temporal_blend``;
    ``engines.temporal_blend``): a camera's temporal noise reduction ahead of the spatial one.
    """

    def __init__(
        self, engine: Any, name: str | None = None, residual_gain: bool = True, temporal_blend: bool = True
    ) -> None:
        card = engine.card
        if card.task not in ("sr", "restore"):
            raise StageError(f"model '{card.name}' is a {card.task} model; an enhance stage needs sr or restore")
        self.engine = engine
        self.scale = int(card.scale)
        self.name = name or card.task
        self.label = f"{card.name} {engine.backend} {engine.precision}"
        self.memory = memory_for(engine)
        # A per-stream model choice reads every input frame and starts afresh with each stream.
        self.choice = engine if isinstance(engine, InputChoice) else None
        self._previous: Any = None  # the memory this frame ran with (recurrent restore models)
        self.gain = residual_gain_for(engine, self._run_for_strength, residual_gain)
        self.blend = blend_for(engine, self.memory, temporal_blend)

    def _run_one(self, pixels: Any) -> Any:
        return self.engine.infer(*single_frame_inputs(self.engine, pixels))[0]

    def _run_for_strength(self, pixels: Any) -> Any:
        return self.engine.infer(*strength_inputs(self.engine, pixels, self._previous))[0]

    def configure(self, spec: VideoSpec) -> VideoSpec:
        problem = (
            self.engine.card.limits.check(spec.height, spec.width) if hasattr(self.engine.card, "limits") else None
        )
        if problem and not getattr(self.engine, "pads_input", False):
            raise StageError(f"model '{self.engine.card.name}': {problem}")
        if self.gain is not None:
            self.gain.reset()  # a new stream or a new size: measure afresh
        if self.choice is not None:
            self.choice.reset()
        if self.memory is not None:
            self.memory.reset("size change")
        if self.blend is not None:
            self.blend.reset("size change")
        return spec.with_size(spec.width * self.scale, spec.height * self.scale)

    def process(self, frame: Frame) -> list[Frame]:
        if self.blend is not None:
            frame = self.blend.filter(frame)
        if self.choice is not None:
            self.choice.observe(frame.pixels, frame.seq)
        if self.memory is None:
            out = self._run_one(frame.pixels)
        else:
            self._previous = self.memory.previous_for(frame, self.blend.last_flow if self.blend else None)
            out = self.engine.infer(np.ascontiguousarray(frame.pixels[np.newaxis]), self._previous[np.newaxis])[0]
            self.memory.update(out)
        if self.gain is not None:
            self.gain.observe(frame.pixels, out)
            out = self.gain.apply(frame.pixels, out)
        return [frame.with_pixels(np.ascontiguousarray(out))]

    def flush(self) -> list[Frame]:
        return []

    def summary_line(self) -> str:
        choice = self.choice.summary() if self.choice is not None else ""
        blend = self.blend.summary() if self.blend is not None else ""
        lines = (choice, memory_summary(self.memory), strength_summary(self.gain), blend)
        return "\n".join(line for line in lines if line)

    def close(self) -> None:
        self.engine.close()
