"""`ganstream_interpolate`: raises the frame rate with the interpolation stage.

N frames in, about factor x N out, so this is a plain element with its own pads rather than a
one-to-one transform: the sink pad's CAPS event configures the stage and announces the new
frame rate downstream, each buffer goes through the stage and the frames it releases are
pushed with the stage's timestamps and durations, and EOS (or a caps change) first pushes what
the stage still holds. The stage is built on READY -> PAUSED; a bad property value or a missing
model fails that state change with an ERROR naming the element and the value. QoS: in a live
pipeline an output frame already later than the sink's last QoS report is not pushed.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, ClassVar

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GObject, Gst  # noqa: E402

from ganstream.stream.elements.common import (  # noqa: E402
    AUTHOR,
    BACKEND_BLURB,
    FLOAT_MAX,
    INT_MAX,
    INT_MIN,
    PRECISION_BLURB,
    ElementTiming,
    is_not_found,
    post_setting_error,
    post_stream_error,
    rgb_templates,
)
from ganstream.stream.elements.stage_builder import interpolate_stage  # noqa: E402
from ganstream.stream.frame import Frame  # noqa: E402
from ganstream.stream.frameio import buffer_from_pixels, pixels_from_buffer, spec_from_caps  # noqa: E402
from ganstream.stream.stages.interp_rules import SCENE_CUT_THRESHOLD  # noqa: E402

log = logging.getLogger(__name__)

_READY_ONLY = GObject.ParamFlags.READWRITE | Gst.PARAM_MUTABLE_READY
_TEMPLATES = rgb_templates()


class GanstreamInterpolate(Gst.Element):
    __gtype_name__ = "GanstreamInterpolate"
    __gstmetadata__ = (
        "ganstream frame interpolation",
        "Filter/Effect/Video",
        "Raises the frame rate of RGB video by synthesising in-between frames (an installed interp model, "
        "the classical flow or flow-large, or the blend baseline); scene cuts are repeated, not blended",
        AUTHOR,
    )
    __gsttemplates__ = _TEMPLATES
    __gproperties__: ClassVar[dict[str, Any]] = {
        "model": (
            str,
            "Model",
            "Installed interp model (e.g. interp), or flow, flow-large or blend; "
            "empty = interp when installed, else flow",
            "",
            _READY_ONLY,
        ),
        "factor": (
            int,
            "Factor",
            "Multiply the frame rate by this integer (2..16); ignored when fps is set",
            INT_MIN,
            INT_MAX,
            2,
            _READY_ONLY,
        ),
        "fps": (str, "Target fps", "Output frame rate such as 60 or 30000/1001 (empty = use factor)", "", _READY_ONLY),
        "scene-cut": (
            float,
            "Scene-cut threshold",
            "Mean absolute difference (0..255, on thumbnails) above which two frames are a scene cut: "
            "the earlier frame is repeated instead of interpolating",
            -FLOAT_MAX,
            FLOAT_MAX,
            SCENE_CUT_THRESHOLD,
            _READY_ONLY,
        ),
        "backend": (str, "Backend", BACKEND_BLURB, "auto", _READY_ONLY),
        "precision": (str, "Precision", PRECISION_BLURB, "", _READY_ONLY),
    }

    def __init__(self) -> None:
        super().__init__()
        self.props_: dict[str, Any] = {
            "model": "", "factor": 2, "fps": "", "scene-cut": SCENE_CUT_THRESHOLD, "backend": "auto", "precision": "",
        }  # fmt: skip
        self.stage: Any = None
        self._spec: Any = None
        self._stride = 0
        self._segment = Gst.Segment()
        self._segment.init(Gst.Format.TIME)
        self._earliest = -1  # running time before which output is late (QoS), -1 = none
        self._lock = threading.Lock()
        self.dropped = 0
        self.timing = ElementTiming()
        self.sinkpad = Gst.Pad.new_from_template(_TEMPLATES[0], "sink")
        self.sinkpad.set_chain_function_full(self._chain, None)
        self.sinkpad.set_event_function_full(self._sink_event, None)
        self.add_pad(self.sinkpad)
        self.srcpad = Gst.Pad.new_from_template(_TEMPLATES[1], "src")
        self.srcpad.set_event_function_full(self._src_event, None)
        self.add_pad(self.srcpad)

    def do_get_property(self, prop: Any) -> Any:
        return self.props_[prop.name]

    def do_set_property(self, prop: Any, value: Any) -> None:
        self.props_[prop.name] = value

    @property
    def factory_name(self) -> str:
        factory = self.get_factory()
        return str(factory.get_name()) if factory is not None else "ganstream_interpolate"

    # -- lifecycle ---------------------------------------------------------------------------
    def do_change_state(self, transition: Any) -> Any:
        if transition == Gst.StateChange.READY_TO_PAUSED and not self._start():
            return Gst.StateChangeReturn.FAILURE
        ret = Gst.Element.do_change_state(self, transition)
        if transition == Gst.StateChange.PAUSED_TO_READY:
            self._stop()
        return ret

    def _start(self) -> bool:
        p = self.props_
        try:
            self.stage = interpolate_stage(
                self.factory_name, p["model"], p["factor"], p["fps"], p["scene-cut"], p["backend"], p["precision"]
            )
        except Exception as exc:  # the element's boundary: one GStreamer error, no traceback
            log.debug("%s: start failed", self.get_name(), exc_info=True)
            text = str(exc) if str(exc).startswith(self.factory_name) else f"{self.factory_name}: {exc}"
            post_setting_error(self, text, not_found=is_not_found(text))
            return False
        self._spec = None
        self._earliest = -1
        self._segment.init(Gst.Format.TIME)
        return True

    def _stop(self) -> None:
        if self.stage is not None:
            self.stage.close()
            self.stage = None
        self._spec = None

    # -- events ------------------------------------------------------------------------------
    def _sink_event(self, pad: Any, parent: Any, event: Any) -> bool:
        kind = event.type
        if kind == Gst.EventType.CAPS:
            return self._set_caps(event.parse_caps())
        if kind == Gst.EventType.SEGMENT:
            self._segment = event.parse_segment().copy()
        elif kind == Gst.EventType.EOS:
            if self.stage is not None and self._spec is not None and self._push(self.stage.flush())[0] not in (
                Gst.FlowReturn.OK, Gst.FlowReturn.FLUSHING, Gst.FlowReturn.EOS,
            ):  # fmt: skip
                log.debug("%s: push at end of stream failed", self.get_name())
        elif kind == Gst.EventType.FLUSH_STOP:
            if self.stage is not None and self._spec is not None:
                self.stage.configure(self._spec)  # forget the held frame: time restarts after a seek
            with self._lock:
                self._earliest = -1
        return bool(pad.event_default(parent, event))

    def _set_caps(self, caps: Any) -> bool:
        if self.stage is None:
            return False
        try:
            spec, stride = spec_from_caps(caps)
            if self._spec is not None:
                self._push(self.stage.flush())
            out_spec = self.stage.configure(spec)
        except Exception as exc:
            post_stream_error(self, f"{self.factory_name}: {exc}")
            return False
        self._spec, self._stride = spec, stride
        out_caps = caps.copy()
        out_caps.set_value("framerate", Gst.Fraction(out_spec.fps.numerator, out_spec.fps.denominator))
        return bool(self.srcpad.push_event(Gst.Event.new_caps(out_caps)))

    def _src_event(self, pad: Any, parent: Any, event: Any) -> bool:
        if event.type == Gst.EventType.QOS:
            _kind, _proportion, diff, timestamp = event.parse_qos()
            with self._lock:
                self._earliest = timestamp + diff if diff > 0 else -1
        return bool(pad.event_default(parent, event))

    # -- data --------------------------------------------------------------------------------
    def _chain(self, pad: Any, parent: Any, buf: Any) -> Any:
        if self._spec is None or self.stage is None:
            post_stream_error(self, f"{self.factory_name}: data before caps")
            return Gst.FlowReturn.NOT_NEGOTIATED
        started = time.perf_counter()
        try:
            pixels = pixels_from_buffer(buf, self._spec, self._stride)
            duration = int(buf.duration) if buf.duration != Gst.CLOCK_TIME_NONE else self._spec.frame_duration_ns
            stage_start = time.perf_counter()
            frames = self.stage.process(Frame(pixels, pts=int(buf.pts), duration=duration))
            self.timing.add_stage(time.perf_counter() - stage_start)
        except Exception as exc:
            log.debug("%s: interpolation failed", self.get_name(), exc_info=True)
            post_stream_error(self, f"{self.factory_name}: {exc}")
            return Gst.FlowReturn.ERROR
        ret, pushing_s = self._push(frames)
        self.timing.add_element(time.perf_counter() - started - pushing_s)
        return ret

    def _push(self, frames: list[Frame]) -> tuple[Any, float]:
        """Push `frames` downstream; returns the flow result and the seconds spent downstream."""
        ret, downstream_s = Gst.FlowReturn.OK, 0.0
        for frame in frames:
            if self._late(frame):
                self.dropped += 1
                continue
            buffer = buffer_from_pixels(frame.pixels, frame.pts, frame.duration)
            pushed = time.perf_counter()
            ret = self.srcpad.push(buffer)
            downstream_s += time.perf_counter() - pushed
            if ret != Gst.FlowReturn.OK:
                break
        return ret, downstream_s

    def _late(self, frame: Frame) -> bool:
        with self._lock:
            earliest = self._earliest
        if earliest < 0 or frame.pts < 0:
            return False
        running = self._segment.to_running_time(Gst.Format.TIME, frame.pts)
        return running != Gst.CLOCK_TIME_NONE and running + max(frame.duration, 0) < earliest
