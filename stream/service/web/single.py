"""`ganstream run --preview [HOST:]PORT`: the web view's page for one pipeline (one tile)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from ganstream.stream.errors import ConfigError
from ganstream.stream.health import SourceHealth
from ganstream.stream.service.config import is_loopback
from ganstream.stream.service.web.preview import CameraPreview
from ganstream.stream.stages.base import Stage
from ganstream.stream.stats import RunStats, tile_fields

TOKEN_ENV = "GANSTREAM_PREVIEW_TOKEN"


def parse_preview_address(value: str) -> tuple[str, int]:
    """``PORT`` or ``HOST:PORT`` (``[::1]:PORT`` for IPv6); the host defaults to 127.0.0.1."""
    host, sep, port = value.rpartition(":")
    host = host.strip("[]") if sep else "127.0.0.1"
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"--preview: expected [HOST:]PORT with a port 0..65535, got {value!r}")
    return host or "127.0.0.1", int(port)


def preview_token(host: str) -> str:
    """The token a non-loopback preview needs, from the environment (never the command line)."""
    token = os.environ.get(TOKEN_ENV, "")
    if not is_loopback(host) and not token:
        raise ConfigError(f"--preview: binding to {host!r} needs a token in the environment variable {TOKEN_ENV}")
    return token


class PipelineTile:
    """One `Pipeline` seen as a camera tile; `health` and `stats` are the pipeline's own records."""

    def __init__(self, name: str, health: SourceHealth, stats: RunStats, preview: CameraPreview) -> None:
        self.name = name
        self.health = health
        self.stats = stats
        self.preview = preview

    def snapshot(self) -> dict[str, Any]:
        st = self.stats
        h = self.health.as_dict()
        return {
            "name": self.name,
            "source": h["source"],
            "status": h["state"] if st.ended is None else "stopped",
            "frames_in": st.frames_in,
            "frames_out": st.frames_out,
            "dropped": st.dropped,
            **tile_fields(st, h),
        }


class SingleBoard:
    controls = False

    def __init__(self, tile: PipelineTile) -> None:
        self.tile = tile

    def tiles(self) -> dict[str, Any]:
        return {self.tile.name: self.tile}


class PreviewRunner:
    """The web view of one `ganstream run`: a tap around its stages and an HTTP server."""

    def __init__(self, address: str, name: str = "camera") -> None:
        self.host, self.port = parse_preview_address(address)
        self.token = preview_token(self.host)
        self.name = name
        self.preview = CameraPreview(name)
        self.server: Any = None

    def wrap(self, stages: Sequence[Stage]) -> list[Stage]:
        return self.preview.wrap(stages)

    def start(self, pipeline: Any) -> str:
        """Serve the page for `pipeline` (its own health and stats records); returns the page's URL."""
        from ganstream.stream.service.api import AppServer
        from ganstream.stream.service.web.app import web_app

        tile = PipelineTile(self.name, pipeline.health, pipeline.stats, self.preview)
        self.server = AppServer(web_app(SingleBoard(tile), self.token), self.host, self.port)
        self.server.what = "preview"
        self.server.start()
        return str(self.server.url("/"))

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
