"""The HTTP control API (FastAPI, served by uvicorn in a thread).

GET /cameras, POST /cameras (a camera table as JSON), DELETE /cameras/{name},
POST /cameras/{name}/restart, GET /health, GET /metrics (Prometheus), and the open probes
GET /livez and /readyz, plus the web view (``ganstream.stream.service.web``: the page at /,
camera snapshots and MJPEG previews). Bound to 127.0.0.1 by default; bound to any other address,
every route but the probes needs ``Authorization: Bearer <token>`` (or, from a browser, the
cookie ``/?token=...`` sets).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from fastapi import Body, FastAPI, HTTPException
from fastapi.responses import JSONResponse, Response

from ganstream.stream.errors import ConfigError
from ganstream.stream.service.config import is_loopback, parse_camera
from ganstream.stream.service.manager import CameraExistsError, CameraNotFoundError, Service
from ganstream.stream.service.metrics import make_registry, render
from ganstream.stream.service.web.app import ServiceBoard, web_app

log = logging.getLogger(__name__)


def create_app(service: Service, token: str = "") -> FastAPI:
    app = web_app(ServiceBoard(service), token)
    registry = make_registry(service)

    @app.get("/livez")
    def livez() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/readyz")
    def readyz() -> Response:
        if service.ready:
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "starting"}, status_code=503)

    @app.get("/health")
    def health() -> dict[str, Any]:
        return service.health_report()

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(render(registry), media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.get("/cameras")
    def list_cameras() -> list[dict[str, Any]]:
        return service.snapshot()

    @app.get("/cameras/{name}")
    def get_camera(name: str) -> dict[str, Any]:
        cam = service.cameras.get(name)
        if cam is None:
            raise HTTPException(404, f"no camera named {name!r}")
        return cam.snapshot()

    @app.post("/cameras", status_code=201)
    def add_camera(body: dict[str, Any] = Body(...)) -> dict[str, Any]:  # noqa: B008
        try:
            cam = parse_camera(body, service.settings)
            return service.add_camera(cam).snapshot()
        except CameraExistsError as exc:
            raise HTTPException(409, str(exc)) from None
        except ConfigError as exc:
            raise HTTPException(422, str(exc)) from None

    @app.delete("/cameras/{name}")
    def remove_camera(name: str) -> dict[str, str]:
        try:
            service.remove_camera(name)
        except CameraNotFoundError as exc:
            raise HTTPException(404, str(exc)) from None
        return {"removed": name}

    @app.post("/cameras/{name}/restart")
    def restart_camera(name: str) -> dict[str, str]:
        try:
            service.restart_camera(name)
        except CameraNotFoundError as exc:
            raise HTTPException(404, str(exc)) from None
        return {"restarting": name}

    return app


class AppServer:
    """uvicorn serving `app` on its own thread; `port` is the bound one (0 asks the OS)."""

    what = "http"

    def __init__(self, app: FastAPI, host: str, port: int) -> None:
        import uvicorn

        self.host = host
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="ganstream-api", daemon=True)
        self.port = port

    def start(self, timeout: float = 10.0) -> int:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise ConfigError(f"{self.what}: cannot listen on {self.host}:{self.port} (port in use?)")
            time.sleep(0.05)
        sockets = [s for srv in getattr(self._server, "servers", []) for s in srv.sockets]
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        log.info("%s on http://%s:%d", self.what, self.host, self.port)
        return self.port

    def url(self, path: str = "") -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}{path}"

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)


class ApiServer(AppServer):
    """The control API and web view of a `Service`."""

    what = "api"

    def __init__(self, service: Service, host: str = "127.0.0.1", port: int = 8080, token: str = "") -> None:
        if not is_loopback(host) and not token:
            raise ConfigError(f"api: binding to {host!r} needs a token (api.token)")
        super().__init__(create_app(service, token), host, port)
