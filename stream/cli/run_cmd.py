"""`ganstream run`: one source through the processing chain into one sink."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import tomllib
from fractions import Fraction
from pathlib import Path
from typing import Any

from ganstream.stream.cli import reliability_args
from ganstream.stream.errors import ConfigError
from ganstream.stream.profiles import PROFILES

log = logging.getLogger(__name__)

SAMPLE_CLIP = Path(__file__).resolve().parent.parent / "data" / "sample.mp4"
DEFAULT_SINK = "out/output.mp4"
# Keys a --config TOML file may set: the long option names, dashes or underscores.
CONFIG_KEYS = {
    "source", "sink", "sr", "restore", "interpolate", "fps", "model", "backend", "precision", "realtime",
    "latency", "lossless", "audio", "passthrough", "rtsp_transport", "rtsp_latency", "images_fps", "duration",
}  # fmt: skip
CONFIG_KEYS |= reliability_args.CONFIG_KEYS
CONFIG_KEYS |= {"profile", "residual_gain", "temporal_blend"}


def _fraction(value: str) -> Fraction:
    from ganstream.stream.uri import parse_fps

    try:
        return parse_fps(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(sub: Any) -> None:
    p = sub.add_parser(
        "run",
        help="process one source into one sink",
        description="Process one source (file, test:, rtsp://, v4l2:, image pattern) through "
        "restore -> sr -> interpolate into one sink (file, image pattern, rtsp://:PORT/NAME, v4l2:, display, null). "
        "With no stage option the default chain (--sr 2) runs.",
    )
    p.add_argument("--source", "-i", help=f"input; default: the bundled sample clip ({SAMPLE_CLIP.name})")
    p.add_argument("--sink", "-o", help=f"output; default: {DEFAULT_SINK}")
    stages = p.add_argument_group("processing chain (restore -> sr -> interpolate)")
    stages.add_argument("--sr", type=int, choices=(2, 3, 4), help="super-resolution factor")
    stages.add_argument("--restore", action="store_true", default=None, help="denoise / remove compression artifacts")
    rate = stages.add_mutually_exclusive_group()
    rate.add_argument("--interpolate", type=int, metavar="N", help="multiply the frame rate by N")
    rate.add_argument(
        "--fps", type=_fraction, metavar="F", help="interpolate to F frames per second (e.g. 60, 30000/1001)"
    )
    stages.add_argument(
        "--model",
        action="append",
        metavar="NAME",
        help="model or baseline for a stage (repeatable): "
        "an installed model (see `ganstream engines list`), bicubic, lanczos, nlmeans or blend",
    )
    stages.add_argument("--passthrough", action="store_true", default=None, help="no processing (identity chain)")
    stages.add_argument(
        "--backend", choices=("auto", "openvino", "ort", "torch", "trt"), help="inference backend (default auto)"
    )
    stages.add_argument(
        "--precision",
        choices=("fp32", "fp16", "bf16", "int8"),
        help="inference precision (default: the fastest that keeps quality on this machine, measured once)",
    )
    stages.add_argument(
        "--residual-gain",
        choices=("auto", "off"),
        help="keep as much of the model's correction as the stream's own frames show helps (auto, the "
        "default: sr against bicubic, restore against its input by the frames' measured noise), or all "
        "of it (off)",
    )
    stages.add_argument(
        "--temporal-blend",
        choices=("on", "off"),
        help="restore: average each input frame with the stream's previous ones along the optical flow where "
        "they agree, before the model (on, the default: a camera's temporal noise reduction; removes more "
        "noise on still and slowly moving scenes), or not (off)",
    )
    p.add_argument(
        "--profile",
        choices=tuple(PROFILES),
        help="platform elements: cpu (default), jetson (nvv4l2decoder/nvvidconv/nvv4l2h264enc, trt), "
        "jetson-nano (no hardware encoder: x264enc), nvidia (nvh264dec/cudadownload/cudaupload/nvh264enc, trt); "
        "see docs/jetson.md",
    )
    mode = p.add_argument_group("timing")
    mode.add_argument(
        "--realtime",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="drop frames rather than fall behind (default: on for live sources, off for files)",
    )
    mode.add_argument(
        "--latency", choices=("normal", "low"), help="low: queues of one, zero-latency encoder (conferencing)"
    )
    mode.add_argument("--duration", type=float, metavar="S", help="stop cleanly after S seconds")
    out = p.add_argument_group("output")
    out.add_argument("--lossless", action="store_true", default=None, help="FFV1 in .mkv instead of H.264")
    out.add_argument(
        "--audio", action=argparse.BooleanOptionalAction, default=None, help="keep the source's audio (default on)"
    )
    src = p.add_argument_group("source options")
    src.add_argument("--rtsp-transport", choices=("tcp", "udp", "auto"), help="RTSP lower transport (default tcp)")
    src.add_argument("--rtsp-latency", type=int, metavar="MS", help="RTSP jitter buffer in ms (default 200)")
    src.add_argument(
        "--images-fps", type=_fraction, metavar="F", help="frame rate of an image-sequence source (default 25)"
    )
    out.add_argument(
        "--compare",
        choices=("side", "split"),
        help="write the source (scaled to the output size) beside the output, or split with it (before/after)",
    )
    out.add_argument(
        "--preview",
        metavar="[HOST:]PORT",
        help="serve a live web view of the run (source and output previews, figures) on this address; "
        "a non-loopback HOST needs a token in $GANSTREAM_PREVIEW_TOKEN",
    )
    reliability_args.add_arguments(p)
    p.add_argument(
        "--config", type=Path, metavar="FILE.toml", help="read these options from a TOML file (command line wins)"
    )
    p.add_argument("--summary-json", type=Path, metavar="FILE", help="also write the run summary as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bar / status lines")
    p.set_defaults(func=run)


def load_config(path: Path) -> dict[str, Any]:
    """Options from a TOML file: top-level keys or a [run] table, named like the long options."""
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config '{path}': no such file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config '{path}': not valid TOML ({exc})") from None
    table = data.get("run", data)
    out: dict[str, Any] = {}
    for key, value in table.items():
        norm = key.replace("-", "_")
        if norm not in CONFIG_KEYS:
            raise ConfigError(f"config '{path}': unknown key {key!r}; expected one of {', '.join(sorted(CONFIG_KEYS))}")
        out[norm] = value
    if "fps" in out:
        out["fps"] = _config_fraction(path, "fps", out["fps"])
    if "images_fps" in out:
        out["images_fps"] = _config_fraction(path, "images_fps", out["images_fps"])
    if "model" in out and isinstance(out["model"], str):
        out["model"] = [out["model"]]
    return out


def _config_fraction(path: Path, key: str, value: object) -> Fraction:
    try:
        return _fraction(str(value))
    except argparse.ArgumentTypeError as exc:
        raise ConfigError(f"config '{path}': {key}: {exc}") from None


def _merged(args: argparse.Namespace) -> dict[str, Any]:
    opts: dict[str, Any] = load_config(args.config) if args.config else {}
    for key in CONFIG_KEYS:
        value = getattr(args, key, None)
        if value is not None:
            opts[key] = value
    return opts


def run(args: argparse.Namespace) -> int:
    from ganstream.stream.pipeline import Pipeline, RunOptions
    from ganstream.stream.probe import probe_file
    from ganstream.stream.profiles import get_profile
    from ganstream.stream.progress import FileProgress, LiveStatus
    from ganstream.stream.secrets import install_log_redaction
    from ganstream.stream.service.web.single import PreviewRunner
    from ganstream.stream.sources import SourceOptions
    from ganstream.stream.stage_factory import ChainRequest, build_stages
    from ganstream.stream.stages.compare import compare_stages
    from ganstream.stream.uri import parse_source, redact

    o = _merged(args)
    rel = reliability_args.from_options(o)
    install_log_redaction(secrets=rel.secrets)
    source = parse_source(str(o.get("source") or SAMPLE_CLIP))
    preview = PreviewRunner(args.preview, rel.name or "camera") if args.preview else None
    info = probe_file(source.location) if source.kind == "file" else None
    profile = get_profile(o.get("profile", "cpu"))
    profile.require()  # one line naming what is missing, before any model is loaded
    if source.kind == "csi" and not profile.camera:
        raise ConfigError(f"source '{source}': CSI cameras need --profile jetson (nvarguscamerasrc, nvvidconv)")
    request = ChainRequest(
        restore=bool(o.get("restore")),
        sr=o.get("sr"),
        interpolate=o.get("interpolate"),
        fps=o.get("fps"),
        models=tuple(o.get("model") or ()),
        backend=o.get("backend", profile.backend),
        precision=o.get("precision"),
        residual_gain=o.get("residual_gain", "auto") != "off",
        temporal_blend=o.get("temporal_blend", "on") != "off",
    )
    if request.empty and not o.get("passthrough"):
        request.sr = 2  # the default chain
    stages = [] if o.get("passthrough") else build_stages(request)
    options = RunOptions(
        profile=profile.name,
        realtime=o.get("realtime"),
        low_latency=o.get("latency") == "low",
        audio=o.get("audio", True),
        lossless=bool(o.get("lossless")),
        source=SourceOptions(
            rtsp_transport=o.get("rtsp_transport", "tcp"),
            rtsp_latency_ms=int(o.get("rtsp_latency", 50 if o.get("latency") == "low" else 200)),
            images_fps=o.get("images_fps", Fraction(25)),
            rtsp_credentials=rel.source_credentials,
        ),
        stop_timeout_s=rel.stop_timeout_s,
        reconnect=rel.reconnect,
        restream_credentials=rel.restream_credentials,
        name=rel.name,
    )
    run_stages = compare_stages(stages, args.compare) if args.compare else stages
    run_stages = preview.wrap(run_stages) if preview else run_stages
    pipeline = Pipeline(source, run_stages, str(o.get("sink") or DEFAULT_SINK), options)
    progress: Any = None
    if not args.no_progress:
        if source.is_live:
            progress = LiveStatus(pipeline.stats)
        else:
            total = pipeline.expected_frames() or (info.frames if info else None)
            progress = FileProgress(total)
        pipeline.on_progress = progress.update
    services = reliability_args.Services(rel, pipeline)
    interrupted = _install_signal_handlers(pipeline, services, rel.stop_timeout_s)
    print(
        f"ganstream: {redact(str(source))} -> {pipeline.stats.sink} "
        f"[{' -> '.join(getattr(s, 'label', s.name) for s in stages) or 'passthrough'}]",
        file=sys.stderr,
    )
    services.start()
    try:
        if preview is not None:
            print(f"ganstream: web view at {preview.start(pipeline)}", file=sys.stderr)
        stats = pipeline.run(timeout=o.get("duration"))
    finally:
        services.stop()
        if preview is not None:
            preview.stop()
        if progress is not None:
            progress.close()
    if pipeline.sink_url:
        print(f"ganstream: restreamed at {pipeline.sink_url}", file=sys.stderr)
    print(stats.summary())
    print("\n".join(line for s in stages if (line := getattr(s, "summary_line", lambda: "")())))
    if args.summary_json:
        args.summary_json.write_text(json.dumps(stats.as_dict(), indent=2) + "\n")
    return 130 if interrupted["count"] else 0


def _install_signal_handlers(pipeline: Any, services: Any, stop_timeout_s: float) -> dict[str, int]:
    """First Ctrl-C / SIGTERM: clean stop (EOS, sinks finalised), bounded in time. Second: exit at once."""
    state = {"count": 0}

    def handler(signum: int, _frame: object) -> None:
        state["count"] += 1
        if state["count"] > 1:
            print("ganstream: forced exit", file=sys.stderr)
            os._exit(130)
        print(f"ganstream: {signal.Signals(signum).name}: finishing the output (again to force exit)", file=sys.stderr)
        services.health.state = "stopping"
        # The pipeline bounds each step by stop_timeout_s; this bounds them all together.
        reliability_args.arm_exit_deadline(2 * stop_timeout_s + 10)
        pipeline.stop()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return state
