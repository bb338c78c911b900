"""A running service with two test-pattern cameras and its web view, for the web view's tests."""

from __future__ import annotations

import urllib.request
from typing import Any

import cv2
import numpy as np

from ganstream.stream.service.api import ApiServer
from ganstream.stream.service.config import parse_config
from ganstream.stream.service.manager import Service


def pattern_camera(name: str, pattern: str, model: str = "bicubic") -> dict[str, Any]:
    return {
        "name": name,
        "source": f"test:{pattern}?width=160&height=96&fps=15&live=1",
        "chain": {"sr": 2, "models": [model]},
        "outputs": {"restream": False},
    }


# ball moves; snow through a nearest-neighbour x2 has hard 2x2 blocks its bicubic-scaled source lacks.
TWO_CAMERAS = [pattern_camera("ball", "ball"), pattern_camera("snow", "snow", "nearest")]


def start_service(cameras: list[dict[str, Any]], token: str = "") -> tuple[Service, ApiServer]:
    settings = parse_config({"api": {"port": 0}, "restream": {"port": 0}, "cameras": cameras})
    service = Service(settings)
    api = ApiServer(service, "127.0.0.1", 0, token)
    api.start()
    service.start()
    return service, api


def open_url(url: str, token: str = "", timeout: float = 10.0) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)


def decode(jpeg: bytes) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None, "not a JPEG"
    return img


def read_parts(resp: Any, count: int) -> list[bytes]:
    """`count` JPEGs from a multipart/x-mixed-replace response (parts carry Content-Length)."""
    parts = []
    while len(parts) < count:
        line = resp.readline()
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
            assert resp.readline() == b"\r\n"
            parts.append(resp.read(length))
    return parts


def sharpness(img: np.ndarray) -> float:
    """Mean squared difference between horizontal neighbours: hard steps score higher than the
    smooth ramps of a bicubic scaling of the same picture (a mean absolute one would not)."""
    grey = img.astype(np.float32).mean(axis=2)
    return float((np.diff(grey, axis=1) ** 2).mean())
