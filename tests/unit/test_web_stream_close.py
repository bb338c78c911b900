"""The web preview's stream response closes its body when the viewer goes away, whatever the timing.

Starlette stops iterating a streaming body when the client disconnects but leaves the generator
suspended at its `yield`: its `finally` (the preview unsubscribing) waited for garbage collection.
These tests hold a reference to the generator, so only an explicit close can run the `finally`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.requests import ClientDisconnect

from ganstream.stream.service.web.routes import ClosingStreamingResponse


def _scope(spec_version: str) -> dict[str, Any]:
    return {"type": "http", "asgi": {"version": "3.0", "spec_version": spec_version}, "method": "GET", "path": "/"}


@pytest.mark.parametrize(
    "spec_version, how",
    [("2.4", "the send fails (uvicorn today)"), ("2.3", "http.disconnect arrives (older servers)")],
)
def test_the_body_generator_is_closed_when_the_viewer_leaves(spec_version: str, how: str) -> None:
    closed: list[bool] = []
    sent: list[dict[str, Any]] = []
    left = asyncio.Event()

    async def parts() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"part"
                await asyncio.sleep(0)
        finally:
            closed.append(True)

    async def send(message: dict[str, Any]) -> None:
        if spec_version == "2.4" and len(sent) >= 3:
            raise OSError("connection reset")  # the viewer went away mid-stream
        sent.append(message)
        if len(sent) >= 3:
            left.set()
        await asyncio.sleep(0)

    async def receive() -> dict[str, Any]:
        await left.wait()
        return {"type": "http.disconnect"}

    async def main() -> None:
        body = parts()  # held here, so garbage collection cannot be what closes it
        response = ClosingStreamingResponse(body)
        with contextlib.suppress(ClientDisconnect):
            await response(_scope(spec_version), receive, send)
        assert closed == [True], f"{how}: the body generator was left open"
        assert sent[0]["type"] == "http.response.start" and body is not None

    asyncio.run(asyncio.wait_for(main(), 10))
