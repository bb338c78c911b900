"""An in-process RTSP server (GstRtspServer) on its own GLib main loop thread.

Used by the `rtsp://:PORT/NAME` sink to restream processed video, and by tests as a camera.
Binds to 127.0.0.1 unless told otherwise; port 0 asks the OS for a free port.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from ganstream.stream.errors import SinkError
from ganstream.stream.gst import modules, namespace

log = logging.getLogger(__name__)


def _rtsp_modules() -> tuple[Any, Any]:
    return namespace("GstRtspServer"), modules()[3]


class RtspServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 8554, credentials: tuple[str, str] | None = None) -> None:
        self.host = host
        self.requested_port = port
        self.credentials = credentials
        self.port = port
        self._server: Any = None
        self._loop: Any = None
        self._context: Any = None
        self._thread: threading.Thread | None = None
        self._source_id = 0

    def start(self) -> int:
        """Start listening; returns the bound port."""
        GstRtspServer, GLib = _rtsp_modules()
        self._server = GstRtspServer.RTSPServer.new()
        self._server.set_address(self.host)
        self._server.set_service(str(self.requested_port))
        if self.credentials is not None:
            self._setup_auth(GstRtspServer)
        self._context = GLib.MainContext.new()
        self._source_id = self._server.attach(self._context)
        if not self._source_id:
            raise SinkError(
                f"RTSP server cannot listen on {self.host}:{self.requested_port} (port in use or address not local)"
            )
        self.port = int(self._server.get_bound_port())
        self._loop = GLib.MainLoop.new(self._context, False)
        self._thread = threading.Thread(target=self._loop.run, name="ganstream-rtsp", daemon=True)
        self._thread.start()
        log.info("RTSP server listening on %s:%d", self.host, self.port)
        return self.port

    def _setup_auth(self, GstRtspServer: Any) -> None:
        assert self.credentials is not None
        user, password = self.credentials
        auth = GstRtspServer.RTSPAuth.new()
        token = GstRtspServer.RTSPToken()
        token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, user)
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
        self._server.set_auth(auth)
        self._role = user

    def mount(self, path: str, launch: str, shared: bool = True) -> str:
        """Serve `launch` (a gst-launch bin description with payloaders pay0, pay1...) at `path`."""
        GstRtspServer, _ = _rtsp_modules()
        factory = GstRtspServer.RTSPMediaFactory.new()
        factory.set_launch(launch)
        factory.set_shared(shared)
        if self.credentials is not None:
            perms = GstRtspServer.RTSPPermissions.new()
            perms.add_role(self._role)
            perms.add_permission_for_role(self._role, GstRtspServer.RTSP_PERM_MEDIA_FACTORY_ACCESS, True)
            perms.add_permission_for_role(self._role, GstRtspServer.RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, True)
            factory.set_permissions(perms)
        self._server.get_mount_points().add_factory(path, factory)
        return self.url(path)

    def unmount(self, path: str) -> None:
        if self._server is not None:
            self._server.get_mount_points().remove_factory(path)

    def url(self, path: str) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"rtsp://{host}:{self.port}{path}"

    def stop(self) -> None:
        if self._server is not None:
            # Disconnect every client so their sessions and media pipelines shut down.
            GstRtspServer, _ = _rtsp_modules()
            self._server.client_filter(lambda *_args: GstRtspServer.RTSPFilterResult.REMOVE)
        if self._loop is not None:
            self._loop.quit()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._source_id and self._context is not None:
            src = self._context.find_source_by_id(self._source_id)
            if src is not None:
                src.destroy()
        self._server = None
        self._loop = None
        self._thread = None
