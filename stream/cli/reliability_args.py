"""`ganstream run` options for 24/7 feeds: reconnection, stall timeout, credentials, health, metrics.

Kept apart from run_cmd so the run command reads as "parse, build, run"; everything here turns
options into the runtime's option objects and the health/metrics services around one run.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# Keys a --config file may set (secrets never: only the names of the variables holding them).
CONFIG_KEYS = {
    "name", "reconnect", "backoff_max", "stall_timeout", "reconnect_attempts", "rtsp_user", "rtsp_password_env",
    "secrets_file", "restream_user", "restream_password_env", "metrics_port", "metrics_host", "status_file",
    "stop_timeout",
}  # fmt: skip


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("24/7 feeds (reconnection, health, credentials)")
    g.add_argument("--name", help="this source's label in status and metrics (default: the redacted URI)")
    g.add_argument(
        "--reconnect",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="reconnect an RTSP source after a loss, forever by default (default on)",
    )
    g.add_argument("--backoff-max", type=float, metavar="S", help="longest wait between reconnections (default 30)")
    g.add_argument("--reconnect-attempts", type=int, metavar="N", help="give up after N reconnections (default never)")
    g.add_argument("--stall-timeout", type=float, metavar="S", help="reconnect a source silent this long (default 10)")
    g.add_argument("--rtsp-user", metavar="USER", help="RTSP source user (password from --rtsp-password-env)")
    g.add_argument("--rtsp-password-env", metavar="VAR", help="environment variable holding the RTSP password")
    g.add_argument(
        "--secrets-file", type=Path, metavar="FILE.toml", help="RTSP source user and password (TOML, chmod 600)"
    )
    g.add_argument("--restream-user", metavar="USER", help="require basic auth on the RTSP restream")
    g.add_argument("--restream-password-env", metavar="VAR", help="environment variable holding the restream password")
    g.add_argument("--metrics-port", type=int, metavar="PORT", help="serve /metrics and /health on this port")
    g.add_argument("--metrics-host", metavar="HOST", help="address for --metrics-port (default 127.0.0.1)")
    g.add_argument("--status-file", type=Path, metavar="FILE.json", help="rewrite this JSON status file every second")
    g.add_argument(
        "--stop-timeout", type=float, metavar="S", help="on SIGINT/SIGTERM, longest wait for the sinks (default 10)"
    )


@dataclass
class Reliability:
    """The reliability part of one run: option objects for the pipeline and services around it."""

    reconnect: Any
    source_credentials: Any
    restream_credentials: Any
    name: str | None
    stop_timeout_s: float
    metrics_host: str
    metrics_port: int | None
    status_file: Path | None
    secrets: tuple[str, ...] = field(default=(), repr=False)  # values to scrub from log lines


def from_options(o: dict[str, Any]) -> Reliability:
    from ganstream.stream.errors import ConfigError
    from ganstream.stream.reconnect import ReconnectOptions
    from ganstream.stream.secrets import credentials_from_env, load_secrets_file

    reconnect = ReconnectOptions(
        enabled=bool(o.get("reconnect", True)),
        max_s=float(o.get("backoff_max", 30.0)),
        stall_timeout_s=float(o.get("stall_timeout", 10.0)),
        max_attempts=o.get("reconnect_attempts"),
    )
    source_credentials = None
    if o.get("secrets_file"):
        source_credentials = load_secrets_file(Path(o["secrets_file"]))
    elif o.get("rtsp_user") or o.get("rtsp_password_env"):
        if not (o.get("rtsp_user") and o.get("rtsp_password_env")):
            raise ConfigError("--rtsp-user and --rtsp-password-env go together (the password is never an argument)")
        source_credentials = credentials_from_env(o["rtsp_user"], o["rtsp_password_env"])
    restream_credentials = None
    if o.get("restream_user") or o.get("restream_password_env"):
        if not (o.get("restream_user") and o.get("restream_password_env")):
            raise ConfigError("--restream-user and --restream-password-env go together")
        restream_credentials = credentials_from_env(o["restream_user"], o["restream_password_env"])
    stop_timeout = float(o.get("stop_timeout", 10.0))
    if stop_timeout <= 0:
        raise ConfigError(f"--stop-timeout must be > 0 seconds, got {stop_timeout}")
    secrets = tuple(c.password for c in (source_credentials, restream_credentials) if c is not None)
    return Reliability(
        reconnect=reconnect,
        source_credentials=source_credentials,
        restream_credentials=restream_credentials,
        name=o.get("name"),
        stop_timeout_s=stop_timeout,
        metrics_host=str(o.get("metrics_host", "127.0.0.1")),
        metrics_port=o.get("metrics_port"),
        status_file=Path(o["status_file"]) if o.get("status_file") else None,
        secrets=secrets,
    )


class Services:
    """Health endpoint, metrics and status file around one pipeline; started and stopped together."""

    def __init__(self, rel: Reliability, pipeline: Any) -> None:
        from ganstream.stream.health import ProcessHealth, StatusFileWriter
        from ganstream.stream.metrics import StatusServer

        self.health = ProcessHealth()
        self.health.add(pipeline.health)
        self.server = (
            StatusServer(self.health, rel.metrics_host, rel.metrics_port) if rel.metrics_port is not None else None
        )
        self.status_file = StatusFileWriter(rel.status_file, self.health) if rel.status_file else None

    def start(self) -> None:
        if self.server is not None:
            port = self.server.start()
            print(f"ganstream: metrics at http://{self.server.host}:{port}/metrics, health at /health", file=sys.stderr)
        if self.status_file is not None:
            self.status_file.start()
        self.health.state = "running"

    def stop(self) -> None:
        self.health.state = "stopped"
        if self.status_file is not None:
            self.status_file.stop()
        if self.server is not None:
            self.server.stop()


def arm_exit_deadline(seconds: float, code: int = 130) -> None:
    """After a stop request: whatever hangs, the process is gone `seconds` from now."""

    def expire() -> None:
        print(f"ganstream: shutdown took longer than {seconds:.0f} s; exiting", file=sys.stderr, flush=True)
        os._exit(code)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
