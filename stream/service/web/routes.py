"""The web view's routes: the page, its state (with a few minutes of history), snapshots, MJPEG.

    GET /                                        the page (static files, no build step)
    GET /web/state                               every camera's figures and recent history (JSON)
    GET /cameras/{name}/snapshot.jpg?view=...    one JPEG (enhanced or source)
    GET /cameras/{name}/preview.mjpg?view=...    multipart/x-mixed-replace JPEG stream

The routes read cameras through `Board`, so the service (many cameras, add/remove/restart
through the control API) and `ganstream run --preview` (one pipeline) share them.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles

from ganstream.stream.service.web.preview import VIEWS, CameraPreview, PreviewTap
from ganstream.stream.stats import RunStats


class ClosingStreamingResponse(StreamingResponse):
    """A streaming response that always closes its body generator when the stream ends.

    When the viewer goes away, Starlette stops iterating the body (the send fails) but leaves the
    async generator suspended: its `finally` (the preview unsubscribing) only ran when garbage
    collection got to it, sometimes many seconds later, with an encoder working for nobody.
    """

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            close = getattr(self.body_iterator, "aclose", None)
            if close is not None:
                await close()


STATIC = Path(__file__).resolve().parent / "static"
BOUNDARY = "ganstream-frame"
SNAPSHOT_TIMEOUT_S = 5.0
HISTORY_INTERVAL_S = 2.0
HISTORY_SECONDS = 300.0


class Tile(Protocol):
    """What the page shows of one camera (a service `Camera` is one)."""

    name: str
    preview: CameraPreview
    stats: RunStats

    def snapshot(self) -> dict[str, Any]: ...


class Board(Protocol):
    controls: bool  # add / remove / restart offered on the page

    def tiles(self) -> dict[str, Tile]: ...


@dataclass
class Sample:
    t: float  # unix time
    frames_in: int
    frames_out: int
    fps_in: float
    fps_out: float
    p95_ms: float | None


class History:
    """Every camera's fps in/out and p95 latency, sampled every few seconds for the last minutes."""

    def __init__(self, board: Board, interval_s: float = HISTORY_INTERVAL_S, seconds: float = HISTORY_SECONDS) -> None:
        self.board = board
        self.interval_s = interval_s
        self._keep = max(2, int(seconds / interval_s))
        self._samples: dict[str, deque[Sample]] = {}
        self.labels: dict[str, dict[str, str]] = {}  # last known model / backend / precision per stage
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="ganstream-web-history", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval_s)

    def sample(self) -> None:
        tiles = self.board.tiles()
        now = time.time()
        with self._lock:
            for gone in set(self._samples) - set(tiles):
                self._samples.pop(gone, None)
                self.labels.pop(gone, None)
        for name, tile in tiles.items():
            snap = tile.snapshot()
            labels = {k: v for k, v in dict(tile.stats.stage_labels).items() if not k.startswith("preview-")}
            with self._lock:
                if labels:
                    self.labels[name] = labels
                samples = self._samples.setdefault(name, deque(maxlen=self._keep))
                fin, fout = int(snap["frames_in"]), int(snap["frames_out"])
                fps_in = fps_out = 0.0
                if samples:
                    last = samples[-1]
                    dt = max(now - last.t, 1e-6)
                    fps_in = max(0, fin - last.frames_in) / dt
                    fps_out = max(0, fout - last.frames_out) / dt
                samples.append(Sample(now, fin, fout, round(fps_in, 2), round(fps_out, 2), snap.get("latency_p95_ms")))

    def series(self, name: str) -> dict[str, list[Any]]:
        with self._lock:
            samples = list(self._samples.get(name, ()))[1:]  # the first has no rate yet
        return {
            "t": [round(s.t, 1) for s in samples],
            "fps_in": [s.fps_in for s in samples],
            "fps_out": [s.fps_out for s in samples],
            "p95_ms": [None if s.p95_ms is None else round(s.p95_ms, 1) for s in samples],
        }


def _tap(board: Board, name: str, view: str) -> tuple[Tile, PreviewTap]:
    if view not in VIEWS:
        raise HTTPException(422, f"view must be one of {', '.join(VIEWS)}, got {view!r}")
    tile = board.tiles().get(name)
    if tile is None:
        raise HTTPException(404, f"no camera named {name!r}")
    return tile, tile.preview.taps[view]


def add_web_routes(app: FastAPI, board: Board, history: History) -> None:
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    @app.get("/web/state")
    def state() -> dict[str, Any]:
        cameras = []
        for name, tile in board.tiles().items():
            snap = tile.snapshot()
            series = history.series(name)
            cameras.append(
                {
                    **snap,
                    "fps_in": series["fps_in"][-1] if series["fps_in"] else 0.0,
                    "fps_out": series["fps_out"][-1] if series["fps_out"] else 0.0,
                    "stages": history.labels.get(name, {}),
                    "viewers": tile.preview.viewers,
                    "history": series,
                }
            )
        opts = next(iter(board.tiles().values())).preview.options if board.tiles() else None
        return {
            "controls": board.controls,
            "preview_fps": opts.fps if opts else None,
            "history_interval_s": history.interval_s,
            "cameras": cameras,
        }

    @app.get("/cameras/{name}/snapshot.jpg")
    async def snapshot(name: str, view: str = "enhanced") -> Response:
        _tile, tap = _tap(board, name, view)
        jpeg = await tap.next_jpeg(SNAPSHOT_TIMEOUT_S)
        if jpeg is None:
            raise HTTPException(503, f"camera {name!r} sent no frame within {SNAPSHOT_TIMEOUT_S:g} s")
        return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    @app.get("/cameras/{name}/preview.mjpg")
    async def preview(name: str, view: str = "enhanced") -> StreamingResponse:
        tile, tap = _tap(board, name, view)

        async def parts() -> AsyncIterator[bytes]:
            # Starlette cancels this generator when the viewer goes away; `watch` then unsubscribes.
            async with tap.watch() as queue:
                while True:
                    try:
                        jpeg = await asyncio.wait_for(queue.get(), SNAPSHOT_TIMEOUT_S)
                    except TimeoutError:
                        if board.tiles().get(name) is not tile:  # the camera was removed
                            return
                        continue
                    head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
                    yield head.encode() + jpeg + b"\r\n"

        return ClosingStreamingResponse(
            parts(),
            media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )
