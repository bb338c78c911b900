"""`ganstream bench`: benchmarks that print figures and ratios against a baseline from the same run."""

from __future__ import annotations

import argparse
import platform
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("bench", help="benchmarks (figures and ratios against a baseline measured in the same run)")
    p.add_argument(
        "what",
        nargs="?",
        default="bridge",
        choices=("bridge", "serve", "recurrent", "interp"),
        help="bridge: the Python bridge's overhead; serve: cross-stream batching against per-frame engine calls; "
        "recurrent: vsr2x / vrestore per frame (flow included) against sr2x / restore; "
        "interp: the classical interpolators against ffmpeg minterpolate at one frame size",
    )
    p.add_argument("--streams", default="1,4,8,16", help="serve: camera counts to run")
    p.add_argument(
        "--model",
        default=None,
        help="serve: sr model (default sr2x; a random tiny one if not installed); a per-camera choice "
        "such as sr2x-auto measures both of its models; interp: comma-separated classical interpolators "
        "(default flow,flow-refined,flow-large)",
    )
    p.add_argument("--size", default="640x360", help="interp: frame size WIDTHxHEIGHT (default 640x360)")
    p.add_argument("--clip", default=None, help="interp: a video file (default: the sample clip)")
    p.add_argument(
        "--against",
        default="",
        help="serve: compare --model's throughput across cameras with this model's, as serve runs both "
        "(e.g. --model vrestore --against restore)",
    )
    p.add_argument("--backend", default="auto", help="serve: engine backend")
    p.add_argument("--sizes", default="360p,720p,1080p", help="comma-separated: 360p, 720p, 1080p")
    p.add_argument(
        "--frames",
        type=int,
        default=300,
        help="frames per run at 360p (fewer at larger sizes); interp: consecutive frames of the clip, at most 61",
    )
    p.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="runs per pipeline, the best kept; recurrent: interleaved rounds, the median kept and the spread printed",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.what == "interp":
        return run_interp(args)
    if args.model is None:
        args.model = "sr2x"
    if args.what == "serve":
        return run_serve(args)
    if args.what == "recurrent":
        from ganstream.stream.bench_recurrent import bench_recurrent
        from ganstream.stream.bench_recurrent import format_results as format_recurrent

        print(f"recurrent benchmark on {platform.processor() or platform.machine()}, {_cpus()} CPUs")
        print(format_recurrent(bench_recurrent(args.backend, count=30, rounds=args.repeats)))
        return 0
    from ganstream.stream.bench import SIZES, bench_bridge, format_results

    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    bad = [s for s in sizes if s not in SIZES]
    if bad:
        raise SystemExit(f"ganstream bench: unknown size(s) {', '.join(bad)}; expected {', '.join(SIZES)}")
    print(f"bridge benchmark on {platform.processor() or platform.machine()}, {_cpus()} CPUs")
    print(format_results(bench_bridge(sizes, args.frames, args.repeats)))
    return 0


def run_interp(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ganstream.engines.calib import default_clip
    from ganstream.stream.heap import keep_freed_heap
    from ganstream.training.interp.speed import bench_interp, clip_frames, format_results, parse_methods, parse_size

    size = parse_size(args.size)
    methods = parse_methods(args.model or "flow,flow-refined,flow-large")
    if args.repeats < 1 or args.frames < 3:
        raise SystemExit("ganstream bench interp: --repeats must be at least 1 and --frames at least 3")
    clip = Path(args.clip) if args.clip else default_clip()
    if clip is None or not clip.is_file():
        raise SystemExit(f"ganstream bench interp: no clip at {clip or 'the sample clip'}")
    frames = clip_frames(clip, size, min(args.frames, 61))
    print(f"interp benchmark on {platform.processor() or platform.machine()}, {_cpus()} CPUs, {clip.name}")
    results = bench_interp(frames, methods, rounds=args.repeats)
    # `ganstream` applied it at start; asked again it says whether it holds (not where the user's
    # own malloc settings won, or off glibc)
    print(format_results(results, size, heap_kept=keep_freed_heap()))
    return 0


def run_serve_models(args: argparse.Namespace, streams: list[int]) -> int:
    from ganstream.engines import load_engine
    from ganstream.stream.service.bench import bench_serve_models, format_models_row, models_header

    engines = {name: load_engine(name, backend=args.backend) for name in (args.against, args.model)}
    try:
        print(
            f"serve models benchmark on {platform.processor() or platform.machine()}, {_cpus()} CPUs; "
            + "; ".join(e.summary() for e in engines.values()),
            flush=True,
        )
        print(models_header(list(engines)), flush=True)
        bench_serve_models(engines, streams, on_result=lambda r: print(format_models_row(r), flush=True))
    finally:
        for engine in engines.values():
            engine.close()
    return 0


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def run_serve(args: argparse.Namespace) -> int:
    from ganstream.engines.input_choice import choice_members
    from ganstream.stream.service.bench import HEADER, bench_serve, engine_batch_gain, format_row, open_bench_engine

    streams = [int(s) for s in args.streams.split(",") if s.strip()]
    members = choice_members(args.model)
    if members and not args.against:
        # A per-camera choice has no engine of its own: serve batches each member's cameras on
        # that member's engine, so the throughput that matters is each member's.
        print(f"{args.model} is chosen per camera: {members[0]} for clean input, {members[1]} for compressed")
        args = argparse.Namespace(**{**vars(args), "model": members[1], "against": members[0]})
    if args.against:
        return run_serve_models(args, streams)
    engine, note = open_bench_engine(args.model, args.backend)
    print(f"serve benchmark on {platform.processor() or platform.machine()}, {_cpus()} CPUs; {engine.summary()}{note}")
    try:
        single, batched = engine_batch_gain(engine, 8)
        print(
            f"engine alone at 320x180: {single:.1f} ms/frame in single calls, {batched:.1f} ms/frame in a batch of 8 "
            f"(ratio {single / batched:.2f}: the ceiling for batching's gain)",
            flush=True,
        )
        print(HEADER, flush=True)
        bench_serve(engine, streams, on_result=lambda r: print(format_row(r), flush=True))
    finally:
        engine.close()
    return 0
