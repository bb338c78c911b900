"""`ganstream bench`: benchmarks that print figures and ratios against a baseline from the same run."""

from __future__ import annotations

import argparse
import platform
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("bench", help="benchmarks (figures and ratios against a baseline measured in the same run)")
    p.add_argument(
        "what", nargs="?", default="bridge", choices=("bridge",), help="bridge: the Python bridge's overhead"
    )
    p.add_argument("--sizes", default="360p,720p,1080p", help="comma-separated: 360p, 720p, 1080p")
    p.add_argument("--frames", type=int, default=300, help="frames per run at 360p (fewer at larger sizes)")
    p.add_argument("--repeats", type=int, default=3, help="runs per pipeline; the best is kept")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ganstream.stream.bench import SIZES, bench_bridge, format_results

    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    bad = [s for s in sizes if s not in SIZES]
    if bad:
        raise SystemExit(f"ganstream bench: unknown size(s) {', '.join(bad)}; expected {', '.join(SIZES)}")
    print(f"bridge benchmark on {platform.processor() or platform.machine()}, {_cpus()} CPUs")
    print(format_results(bench_bridge(sizes, args.frames, args.repeats)))
    return 0


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
