"""Previews of a camera's pictures that never slow the camera down.

A `PreviewTap` sits on the processing path as a pass-through stage. With nobody watching,
`offer()` returns after one check: no copy, no scaling, no JPEG. With viewers it keeps at most
one frame (a leaky slot of one: a newer frame replaces a waiting one), at a reduced rate. The
tap's own thread scales that frame down and encodes it to JPEG once for all viewers; each viewer
gets the picture through its own leaky queue of one on its event loop, so a slow browser misses
pictures and never holds back the camera. The thread ends when the last viewer leaves.

`CameraPreview` holds a camera's two taps: ``source`` (frames as they enter the stages) and
``enhanced`` (frames as they leave them). The source picture is scaled to the enhanced preview's
size, so a before/after view compares the two at the same size (the source scaled up bicubically
is what plain scaling would show).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from ganstream.stream.frame import Frame, Pixels, VideoSpec
from ganstream.stream.stages.base import Stage

log = logging.getLogger(__name__)

VIEWS = ("enhanced", "source")
Size = tuple[int, int]  # width, height


@dataclass(frozen=True)
class PreviewOptions:
    fps: float = 10.0  # pictures per second per view, at most
    max_width: int = 640
    max_height: int = 480
    quality: int = 75  # JPEG quality

    def __post_init__(self) -> None:
        if self.fps <= 0 or self.max_width <= 0 or self.max_height <= 0 or not 1 <= self.quality <= 100:
            raise ValueError(f"PreviewOptions: expected positive fps and size and quality 1..100, got {self}")


def preview_size(width: int, height: int, options: PreviewOptions) -> Size:
    """Fit (width, height) inside the preview box, keeping the aspect; never scale up."""
    scale = min(1.0, options.max_width / width, options.max_height / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def encode_jpeg(pixels: Pixels, size: Size, quality: int) -> bytes:
    """RGB pixels scaled to `size` (area filter down, bicubic up) as one JPEG."""
    h, w = pixels.shape[:2]
    if (w, h) != size:
        interp = cv2.INTER_AREA if size[0] < w else cv2.INTER_CUBIC
        pixels = np.asarray(cv2.resize(pixels, size, interpolation=interp), dtype=np.uint8)
    bgr = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"encode_jpeg: OpenCV could not encode a {w}x{h} picture")
    return buf.tobytes()


def _put_latest(queue: asyncio.Queue[bytes], jpeg: bytes) -> None:
    """Leaky queue of one: the newest picture replaces one the viewer has not taken yet."""
    if queue.full():
        with contextlib.suppress(asyncio.QueueEmpty):
            queue.get_nowait()
    queue.put_nowait(jpeg)


class PreviewTap:
    """One view of one camera; `offer()` runs on the processing thread and never blocks."""

    def __init__(self, name: str, options: PreviewOptions, size: Callable[[int, int], Size]) -> None:
        self.name = name
        self.options = options
        self._size = size
        self._interval = 1.0 / options.fps
        self._viewers: dict[asyncio.Queue[bytes], asyncio.AbstractEventLoop] = {}
        self._lock = threading.Lock()
        self._slot: Pixels | None = None
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_due = 0.0
        self.encoded = 0  # pictures encoded so far (tests and benchmarks read it)

    @property
    def viewers(self) -> int:
        return len(self._viewers)

    def offer(self, pixels: Pixels) -> None:
        if not self._viewers:  # nobody watching: nothing else happens on the processing path
            return
        now = time.monotonic()
        if now < self._next_due:
            return
        # Keep to the preview rate on average even when it does not divide the camera's rate.
        self._next_due = max(self._next_due + self._interval, now)
        self._slot = pixels  # a reference, not a copy; a newer frame replaces it
        self._wake.set()

    # -- viewers (called on an asyncio event loop) ---------------------------------------
    def subscribe(self) -> asyncio.Queue[bytes]:
        queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=1)
        loop = asyncio.get_running_loop()
        with self._lock:
            self._viewers[queue] = loop
            if self._thread is None:
                self._next_due = 0.0
                self._thread = threading.Thread(target=self._encode_loop, name=f"preview-{self.name}", daemon=True)
                self._thread.start()
        return queue

    def unsubscribe(self, queue: asyncio.Queue[bytes]) -> None:
        with self._lock:
            self._viewers.pop(queue, None)

    @contextlib.asynccontextmanager
    async def watch(self) -> AsyncIterator[asyncio.Queue[bytes]]:
        queue = self.subscribe()
        try:
            yield queue
        finally:
            self.unsubscribe(queue)

    async def next_jpeg(self, timeout: float) -> bytes | None:
        """The next picture, or None when the camera sends none within `timeout` seconds."""
        async with self.watch() as queue:
            try:
                return await asyncio.wait_for(queue.get(), timeout)
            except TimeoutError:
                return None

    # -- the encoder thread -------------------------------------------------------------
    def _encode_loop(self) -> None:
        while True:
            woken = self._wake.wait(0.5)
            with self._lock:
                if not self._viewers:
                    self._thread = None  # the next subscriber starts a new thread
                    self._slot = None
                    return
            if not woken:
                continue
            self._wake.clear()
            pixels, self._slot = self._slot, None
            if pixels is None:
                continue
            try:
                h, w = pixels.shape[:2]
                jpeg = encode_jpeg(pixels, self._size(w, h), self.options.quality)
            except Exception as exc:  # a preview problem must never reach the camera
                log.warning("preview %s: %s", self.name, exc)
                continue
            self.encoded += 1
            with self._lock:
                viewers = list(self._viewers.items())
            for queue, loop in viewers:
                with contextlib.suppress(RuntimeError):  # that viewer's loop has closed
                    loop.call_soon_threadsafe(_put_latest, queue, jpeg)


class TapStage:
    """A pass-through stage that offers every frame to a tap (and reports the format it sees)."""

    def __init__(self, name: str, tap: PreviewTap, on_configure: Callable[[VideoSpec], None] | None = None) -> None:
        self.name = name
        self.label = "preview tap"
        self.tap = tap
        self._on_configure = on_configure

    def configure(self, spec: VideoSpec) -> VideoSpec:
        if self._on_configure is not None:
            self._on_configure(spec)
        return spec

    def process(self, frame: Frame) -> list[Frame]:
        self.tap.offer(frame.pixels)
        return [frame]

    def flush(self) -> list[Frame]:
        return []

    def close(self) -> None:
        pass


class CameraPreview:
    """A camera's ``source`` and ``enhanced`` taps, and the stages that feed them."""

    def __init__(self, name: str, options: PreviewOptions | None = None) -> None:
        self.name = name
        self.options = options or PreviewOptions()
        self._output: Size | None = None  # the enhanced frames' size, known once the chain is configured
        self.taps = {
            "enhanced": PreviewTap(f"{name}-enhanced", self.options, self._enhanced_size),
            "source": PreviewTap(f"{name}-source", self.options, self._source_size),
        }

    def wrap(self, stages: Sequence[Stage]) -> list[Stage]:
        """`stages` with a source tap before them and an enhanced tap after them."""
        return [
            TapStage("preview-source", self.taps["source"]),
            *stages,
            TapStage("preview-enhanced", self.taps["enhanced"], on_configure=self._set_output),
        ]

    @property
    def viewers(self) -> int:
        return sum(t.viewers for t in self.taps.values())

    def _set_output(self, spec: VideoSpec) -> None:
        self._output = (spec.width, spec.height)

    def _enhanced_size(self, width: int, height: int) -> Size:
        return preview_size(width, height, self.options)

    def _source_size(self, width: int, height: int) -> Size:
        out = self._output
        return preview_size(*out, self.options) if out else preview_size(width, height, self.options)
