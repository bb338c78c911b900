"""`ganstream_sr` and `ganstream_restore`: video filters around the sr / restore stages.

One frame in, one frame out, new size on the source pad for sr. The stage (and its engine) is
built in `do_start`, so a plugin scan or `gst-inspect-1.0` never loads a model; a bad property
value or a missing model posts an ERROR naming the element and the value, and the state change
fails, so the pipeline stops before any data flows. QoS is on: in a live pipeline the base class
drops frames that would reach the sink too late.
"""

from __future__ import annotations

import logging
import time
from typing import Any, ClassVar

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstBase", "1.0")
gi.require_version("GstVideo", "1.0")
from gi.repository import GObject, Gst, GstBase, GstVideo  # noqa: E402

from ganstream.stream.elements.common import (  # noqa: E402
    AUTHOR,
    BACKEND_BLURB,
    INT_MAX,
    INT_MIN,
    PRECISION_BLURB,
    ElementTiming,
    is_not_found,
    post_setting_error,
    post_stream_error,
    rgb_templates,
    view_rows,
    write_rows,
)
from ganstream.stream.elements.stage_builder import enhance_stage  # noqa: E402
from ganstream.stream.frame import Frame, VideoSpec  # noqa: E402
from ganstream.stream.frameio import spec_from_caps  # noqa: E402

log = logging.getLogger(__name__)

_RW = GObject.ParamFlags.READWRITE
_READY_ONLY = _RW | Gst.PARAM_MUTABLE_READY


def _stride_of(buf: Any, default: int) -> tuple[int, int]:
    """(offset, stride) of the first plane: from the buffer's video meta when it has one."""
    meta = GstVideo.buffer_get_video_meta(buf)
    if meta is not None:
        return int(meta.offset[0]), int(meta.stride[0])
    return 0, default


# Properties both elements take (each class installs its own copy, with its own `model` text).
_ENGINE_PROPS: dict[str, Any] = {
    "backend": (str, "Backend", BACKEND_BLURB, "auto", _READY_ONLY),
    "precision": (str, "Precision", PRECISION_BLURB, "", _READY_ONLY),
    "tile": (
        int,
        "Tile",
        "Input tile size in pixels for large frames (0 = whole frames)",
        INT_MIN,
        INT_MAX,
        0,
        _READY_ONLY,
    ),
}


def _output_pool(caps: Any, size: int, old: Any) -> Any:
    """An active buffer pool for output frames of `caps` (the old one is released)."""
    if old is not None:
        old.set_active(False)
    pool = Gst.BufferPool.new()
    config = pool.get_config()
    Gst.BufferPool.config_set_params(config, caps, size, 2, 0)
    if not pool.set_config(config) or not pool.set_active(True):
        raise RuntimeError(f"cannot set up an output buffer pool for {caps.to_string()}")
    return pool


class _EnhanceFilter(GstBase.BaseTransform):
    """Shared body of the sr and restore elements; `TASK` picks the stage."""

    TASK = ""
    __gsttemplates__ = rgb_templates()

    def __init__(self) -> None:
        super().__init__()
        self.props_: dict[str, Any] = {"model": "", "backend": "auto", "precision": "", "tile": 0, "scale": 0}
        self.stage: Any = None
        self._in: tuple[VideoSpec, int] | None = None
        self._out_stride = 0
        self._pool: Any = None
        self.timing = ElementTiming()
        self.set_qos_enabled(True)

    # -- properties (stored only: validated and used in do_start) ---------------------------
    def do_get_property(self, prop: Any) -> Any:
        return self.props_[prop.name]

    def do_set_property(self, prop: Any, value: Any) -> None:
        self.props_[prop.name] = value

    @property
    def factory_name(self) -> str:
        factory = self.get_factory()
        return str(factory.get_name()) if factory is not None else f"ganstream_{self.TASK}"

    def _scale(self) -> int | None:
        if self.TASK == "restore":
            return 1
        if self.stage is not None:
            return int(getattr(self.stage, "scale", 1))
        model = self.props_["model"]
        return int(self.props_["scale"]) or (2 if model in ("", "bicubic", "lanczos", "bilinear", "nearest") else None)

    # -- lifecycle ---------------------------------------------------------------------------
    def do_start(self) -> bool:
        p = self.props_
        try:
            self.stage = enhance_stage(
                self.factory_name, self.TASK, p["model"], p["scale"], p["backend"], p["precision"], p["tile"]
            )
        except Exception as exc:  # the element's boundary: one GStreamer error, no traceback
            log.debug("%s: start failed", self.get_name(), exc_info=True)
            text = str(exc) if str(exc).startswith(self.factory_name) else f"{self.factory_name}: {exc}"
            post_setting_error(self, text, not_found=is_not_found(text))
            return False
        return True

    def do_stop(self) -> bool:
        if self._pool is not None:
            self._pool.set_active(False)
            self._pool = None
        if self.stage is not None:
            self.stage.close()
            self.stage = None
        self._in = None
        return True

    # -- caps --------------------------------------------------------------------------------
    def do_transform_caps(self, direction: Any, caps: Any, filter_: Any) -> Any:
        scale = self._scale()
        out = Gst.Caps.new_empty()
        for i in range(caps.get_size()):
            s = caps.get_structure(i).copy()
            keep = True
            for key in ("width", "height"):
                fixed, value = s.get_int(key)
                if not fixed or scale is None:
                    s.remove_field(key)
                elif direction == Gst.PadDirection.SINK:
                    s.set_value(key, value * scale)
                elif value % scale == 0:
                    s.set_value(key, value // scale)
                else:
                    keep = False
            if keep:
                out.append_structure(s)
        if filter_ is not None:
            out = filter_.intersect_full(out, Gst.CapsIntersectMode.FIRST)
        return out

    def do_get_unit_size(self, caps: Any) -> tuple[bool, int]:
        info = GstVideo.VideoInfo.new_from_caps(caps)
        return (info is not None, int(info.size) if info is not None else 0)

    def do_set_caps(self, incaps: Any, outcaps: Any) -> bool:
        spec, stride = spec_from_caps(incaps)
        out_info = GstVideo.VideoInfo.new_from_caps(outcaps)
        try:
            expected = self.stage.configure(spec)
        except Exception as exc:
            post_stream_error(self, f"{self.factory_name}: {exc}")
            return False
        if (expected.width, expected.height) != (out_info.width, out_info.height):
            post_stream_error(
                self,
                f"{self.factory_name}: output caps {out_info.width}x{out_info.height} do not match the "
                f"stage's {expected.width}x{expected.height}",
            )
            return False
        self._in = (spec, stride)
        self._out_stride = int(out_info.stride[0])
        try:
            self._pool = _output_pool(outcaps, int(out_info.size), self._pool)
        except RuntimeError as exc:
            post_stream_error(self, f"{self.factory_name}: {exc}")
            return False
        return True

    def do_prepare_output_buffer(self, inbuf: Any) -> tuple[Any, Any]:
        """Output buffers come from our own pool: a fresh multi-megabyte allocation per frame
        (what the base class does when downstream offers no pool) costs page faults every time."""
        if self._pool is None:
            return Gst.FlowReturn.NOT_NEGOTIATED, None
        ret, out = self._pool.acquire_buffer(None)
        if ret != Gst.FlowReturn.OK:
            return ret, None
        out.pts, out.dts, out.duration = inbuf.pts, inbuf.dts, inbuf.duration
        out.offset, out.offset_end = inbuf.offset, inbuf.offset_end
        return Gst.FlowReturn.OK, out

    # -- data --------------------------------------------------------------------------------
    def do_transform(self, inbuf: Any, outbuf: Any) -> Any:
        assert self._in is not None
        started = time.perf_counter()
        spec, stride = self._in
        in_offset, in_stride = _stride_of(inbuf, stride)
        out_offset, out_stride = _stride_of(outbuf, self._out_stride)
        ok_in, src = inbuf.map(Gst.MapFlags.READ)
        if not ok_in:
            post_stream_error(self, f"{self.factory_name}: cannot read an input buffer")
            return Gst.FlowReturn.ERROR
        try:
            ok_out, dst = outbuf.map(Gst.MapFlags.WRITE)
            if not ok_out:
                post_stream_error(self, f"{self.factory_name}: cannot write an output buffer")
                return Gst.FlowReturn.ERROR
            try:
                pixels = view_rows(memoryview(src.data)[in_offset:], spec, in_stride)
                frame = Frame(pixels, pts=int(inbuf.pts), duration=int(inbuf.duration))
                stage_start = time.perf_counter()
                result = self.stage.process(frame)[0].pixels
                self.timing.add_stage(time.perf_counter() - stage_start)
                write_rows(memoryview(dst.data)[out_offset:], result, out_stride)
            finally:
                outbuf.unmap(dst)
        except Exception as exc:
            log.debug("%s: transform failed", self.get_name(), exc_info=True)
            post_stream_error(self, f"{self.factory_name}: {exc}")
            return Gst.FlowReturn.ERROR
        finally:
            inbuf.unmap(src)
        self.timing.add_element(time.perf_counter() - started)
        return Gst.FlowReturn.OK


class GanstreamSr(_EnhanceFilter):
    """Super-resolution: output is `scale` times the input size."""

    __gtype_name__ = "GanstreamSr"
    TASK = "sr"
    __gstmetadata__ = (
        "ganstream super-resolution",
        "Filter/Effect/Video/Scaler",
        "Upscales RGB frames with an installed sr model (or a classical resampler) through a ganstream engine",
        AUTHOR,
    )
    __gproperties__: ClassVar[dict[str, Any]] = {
        **_ENGINE_PROPS,
        "model": (
            str,
            "Model",
            "Installed sr model (e.g. sr2x) or classical resampler (bicubic, lanczos, bilinear, nearest); "
            "empty = sr<scale>x when installed, else bicubic",
            "",
            _READY_ONLY,
        ),
        "scale": (
            int,
            "Scale",
            "Upscaling factor 2, 3 or 4 (0 = the model's own; 2 for classical resamplers)",
            INT_MIN,
            INT_MAX,
            0,
            _READY_ONLY,
        ),
    }


class GanstreamRestore(_EnhanceFilter):
    """Restoration (denoise / compression-artifact removal): same size out."""

    __gtype_name__ = "GanstreamRestore"
    TASK = "restore"
    __gstmetadata__ = (
        "ganstream restoration",
        "Filter/Effect/Video",
        "Removes noise and compression artifacts from RGB frames with an installed restore model "
        "(or the nlmeans baseline) through a ganstream engine",
        AUTHOR,
    )
    __gproperties__: ClassVar[dict[str, Any]] = {
        **_ENGINE_PROPS,
        "model": (
            str,
            "Model",
            "Installed restore model (e.g. restore, vrestore) or the classical baseline nlmeans; "
            "empty = restore, nlmeans when it is not installed",
            "",
            _READY_ONLY,
        ),
    }
