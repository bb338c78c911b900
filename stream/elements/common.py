"""What every ganstream element shares: caps, the properties engines take, errors, pixel access."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from ganstream.stream.frame import Pixels, VideoSpec
from ganstream.stream.frameio import spec_from_caps
from ganstream.stream.gst import modules

log = logging.getLogger(__name__)

# Packed RGB is what the stages take; put `videoconvert` before and after an element.
RGB_CAPS = "video/x-raw,format=RGB,width=[1,2147483647],height=[1,2147483647],framerate=[0/1,2147483647/1]"
AUTHOR = "ganstream"
# Numeric properties accept any value at the GObject level and are checked when the element
# starts: GLib would otherwise only print a warning for an out-of-range value and keep the default.
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
FLOAT_MAX = sys.float_info.max

BACKEND_BLURB = "Inference backend: auto, openvino, ort, torch or trt (ignored by classical baselines)"
PRECISION_BLURB = "Inference precision: fp32, fp16, bf16 or int8; empty = the backend's best on this machine"


@dataclass
class ElementTiming:
    """Where an element's time goes: its whole per-buffer work vs the stage inside it.

    `own_ms` (element minus stage, per frame) is what the GStreamer adapter itself costs:
    mapping, views, the output copy. Two perf_counter calls per buffer; always on.
    """

    frames: int = 0
    element_s: float = 0.0
    stage_s: float = 0.0

    def add_stage(self, seconds: float) -> None:
        self.stage_s += seconds

    def add_element(self, seconds: float) -> None:
        self.frames += 1
        self.element_s += seconds

    @property
    def own_ms(self) -> float:
        return 1000 * (self.element_s - self.stage_s) / self.frames if self.frames else 0.0

    @property
    def stage_ms(self) -> float:
        return 1000 * self.stage_s / self.frames if self.frames else 0.0


def rgb_templates() -> tuple[Any, Any]:
    Gst = modules()[0]
    caps = Gst.Caps.from_string(RGB_CAPS)
    return (
        Gst.PadTemplate.new("sink", Gst.PadDirection.SINK, Gst.PadPresence.ALWAYS, caps),
        Gst.PadTemplate.new("src", Gst.PadDirection.SRC, Gst.PadPresence.ALWAYS, caps.copy()),
    )


def post_setting_error(element: Any, text: str, not_found: bool = False) -> None:
    """A GStreamer ERROR message from `element` (gst-launch prints it and stops the pipeline)."""
    Gst = modules()[0]
    if not_found:
        domain, code = Gst.ResourceError.quark(), int(Gst.ResourceError.NOT_FOUND)
    else:
        domain, code = Gst.LibraryError.quark(), int(Gst.LibraryError.SETTINGS)
    element.message_full(Gst.MessageType.ERROR, domain, code, text, None, "ganstream", "start", 0)


def post_stream_error(element: Any, text: str) -> None:
    Gst = modules()[0]
    element.message_full(
        Gst.MessageType.ERROR, Gst.StreamError.quark(), int(Gst.StreamError.FAILED), text, None, "ganstream", "chain", 0
    )


def caps_spec(caps: Any) -> tuple[VideoSpec, int]:
    """(VideoSpec, row stride) of fixed RGB caps."""
    return spec_from_caps(caps)


def view_rows(data: Any, spec: VideoSpec, stride: int) -> Pixels:
    """An (H, W, 3) view of mapped RGB memory whose rows are `stride` bytes apart (no copy)."""
    flat = np.frombuffer(data, dtype=np.uint8, count=stride * spec.height)
    rows = flat.reshape(spec.height, stride)
    return rows[:, : spec.width * 3].reshape(spec.height, spec.width, 3)


def write_rows(data: Any, pixels: Pixels, stride: int) -> None:
    """Copy (H, W, 3) pixels into writable mapped memory with `stride`-byte rows."""
    h, w = pixels.shape[:2]
    target = np.frombuffer(data, dtype=np.uint8, count=stride * h).reshape(h, stride)
    target[:, : w * 3] = pixels.reshape(h, w * 3)


def is_not_found(text: str) -> bool:
    return "not installed" in text or "no such" in text.lower() or "not found" in text.lower()
