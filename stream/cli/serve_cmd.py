"""`ganstream serve --config cameras.toml`: every camera of a config in one process."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "serve",
        help="run many cameras from a config file: shared batched engines, restream, recording, control API",
        description="Run every camera of a config (see `ganstream config example`) until SIGINT/SIGTERM.",
    )
    p.add_argument("--config", "-c", type=Path, required=True, help="the config file (TOML)")
    p.add_argument(
        "--shard",
        metavar="INDEX/COUNT",
        help="run only this shard's cameras (stable hash of the name); auto/COUNT takes INDEX from the host name",
    )
    p.add_argument("--stall-timeout", type=float, default=10.0, help="seconds without a frame before a source restarts")
    p.add_argument("--duration", type=float, help="stop after this many seconds (default: run until signalled)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ganstream.stream.secrets import install_log_redaction
    from ganstream.stream.service.api import ApiServer
    from ganstream.stream.service.config import load_config
    from ganstream.stream.service.manager import Service
    from ganstream.stream.sharding import parse_shard

    settings = load_config(args.config)
    # URI credentials are redacted everywhere; the API token and restream password too.
    install_log_redaction(secrets=(settings.api.token, settings.restream.password))
    shard = parse_shard(args.shard) if args.shard else None
    service = Service(settings, shard=shard, stall_timeout_s=args.stall_timeout)
    done = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        log.warning("signal %d: stopping every camera", signum)
        done.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    api: ApiServer | None = None
    try:
        if settings.api.enabled:
            api = ApiServer(service, settings.api.host, settings.api.port, settings.api.token)
            api.start()
            print(f"control API: {api.url('/cameras')}", flush=True)
        service.start()
        assert service.rtsp is not None
        print(f"restream: {service.rtsp.url('/<camera>')}; {len(service.cameras)} camera(s) running", flush=True)
        done.wait(args.duration)
    finally:
        service.stop()
        if api is not None:
            api.stop()
    print("stopped", flush=True)
    return 0
