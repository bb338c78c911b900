"""The FastAPI app the web view lives in: token rule, history sampler, page and preview routes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from ganstream.stream.service.web.auth import check_token
from ganstream.stream.service.web.routes import Board, History, add_web_routes

OPEN_PATHS = frozenset({"/livez", "/readyz"})


class ServiceBoard:
    """The service's cameras, with add / remove / restart offered (through the control API)."""

    controls = True

    def __init__(self, service: Any) -> None:
        self.service = service

    def tiles(self) -> dict[str, Any]:
        return dict(self.service.cameras)


def web_app(board: Board, token: str = "", title: str = "ganstream") -> FastAPI:
    """An app with the token rule (all but the probes), the page, its state and the previews."""
    history = History(board)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        history.start()
        yield
        history.stop()

    app = FastAPI(title=title, docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)

    @app.middleware("http")
    async def require_token(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if request.url.path not in OPEN_PATHS:
            refusal = check_token(request, token)
            if refusal is not None:
                return refusal
        return await call_next(request)

    add_web_routes(app, board, history)
    return app
