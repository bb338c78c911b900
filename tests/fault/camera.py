"""A real RTSP camera for fault tests: GstRtspServer on 127.0.0.1 that can die and come back."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from ganstream.stream.rtsp_server import RtspServer

# What cameras send: AAC (RFC 3640), G.711 mu-law / A-law (8 kHz mono) and Opus.
AUDIO_CODECS = {
    "aac": "audio/x-raw,rate=48000,channels=1 ! avenc_aac ! aacparse ! rtpmp4gpay",
    "pcmu": "audio/x-raw,rate=8000,channels=1 ! mulawenc ! rtppcmupay",
    "pcma": "audio/x-raw,rate=8000,channels=1 ! alawenc ! rtppcmapay",
    "opus": "audio/x-raw,rate=48000,channels=2 ! opusenc ! rtpopuspay",
}


def camera_launch(width: int = 160, height: int = 96, fps: int = 15, audio: str = "") -> str:
    """The camera's media: a moving ball in H.264, plus a 440 Hz tone in `audio` (a key of AUDIO_CODECS)."""
    launch = (
        f"videotestsrc is-live=true pattern=ball ! video/x-raw,width={width},height={height},framerate={fps}/1 ! "
        f"x264enc tune=zerolatency speed-preset=ultrafast key-int-max={fps} ! rtph264pay name=pay0 pt=96 "
        "config-interval=1"
    )
    if audio:
        launch += (
            " audiotestsrc is-live=true wave=sine freq=440 volume=0.5 ! audioconvert ! audioresample ! "
            f"{AUDIO_CODECS[audio]} name=pay1 pt=97"
        )
    return f"( {launch} )"


class Camera:
    """Serves `launch` at /cam; `stop()` drops every client, `start()` comes back on the same port."""

    def __init__(self, launch: str | None = None, credentials: tuple[str, str] | None = None) -> None:
        self.launch = launch or camera_launch()
        self.credentials = credentials
        self.port = 0
        self._server: RtspServer | None = None

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}/cam"

    def start(self, launch: str | None = None) -> None:
        self.launch = launch or self.launch
        self._server = RtspServer("127.0.0.1", self.port, credentials=self.credentials)
        self.port = self._server.start()
        self._server.mount("/cam", self.launch)

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


@contextmanager
def silent_server() -> Iterator[int]:
    """A TCP server on 127.0.0.1 that accepts connections and never says a word."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(sock.getsockname()[1])
    finally:
        stop.set()
        thread.join(2)
        for conn in held:
            conn.close()
        sock.close()
