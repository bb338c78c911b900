"""`python -m ganstream.stream.bench_heap`: the frame path with glibc's default heap against
`keep_freed_heap` (ganstream.stream.heap), each in a fresh process, rounds interleaved.

Workloads, on consecutive frames of the sample clip (real motion):

- ``interpolate``: `flow`'s synthesis of one in-between frame (DIS both ways, the flows at t,
  two bicubic warps, the fused frame) at 640x360,
- ``sr2x``: `ganstream run`'s SR stage with the shipped `sr2x` (residual gain included) at
  320x180 input.

Prints ms per frame, minor page faults per frame and RSS per setting, and the ratio default /
kept from the same run. The setting is process-wide and cannot be undone, hence one child
process per measurement.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ganstream.engines.calib import iter_frames

WORKLOADS = ("interpolate", "sr2x")
SIZES = {"interpolate": (640, 360), "sr2x": (320, 180)}  # width, height of the frames fed in
WARMUP = 3


@dataclass(frozen=True)
class Measurement:
    ms_per_frame: float
    faults_per_frame: float
    rss_mib: float
    kept: bool  # whether keep_freed_heap applied (False: the defaults, asked or not)


class _ClipFrames:
    """Consecutive frames of the sample clip, decoded and converted as they are asked for (the
    allocations of a live source's frames go on beside the stage's own), looping at its end."""

    def __init__(self, size: tuple[int, int]) -> None:
        from ganstream.engines.calib import default_clip

        clip = default_clip()
        if clip is None:
            raise SystemExit("bench_heap: the sample clip is not installed")
        self.clip, self.size = clip, size
        self.frames = iter_frames(clip, size)

    def next(self) -> np.ndarray:
        frame = next(self.frames, None)
        if frame is None:  # the clip ended: from its start again
            self.frames = iter_frames(self.clip, self.size)
            frame = next(self.frames, None)
            if frame is None:
                raise SystemExit("bench_heap: the sample clip cannot be read")
        return frame


def _interpolate_step(frames: _ClipFrames) -> Callable[[int], None]:
    from ganstream.stream.stages.interp_synth import FlowSynth

    synth = FlowSynth()
    previous = [frames.next()]

    def step(_: int) -> None:
        current = frames.next()
        synth.synthesize(previous[0], current, [0.5])
        previous[0] = current

    return step


def _sr2x_step(frames: _ClipFrames) -> Callable[[int], None]:
    from ganstream.engines import load_engine
    from ganstream.stream.frame import Frame, VideoSpec
    from ganstream.stream.stages.enhance import EnhanceStage

    stage = EnhanceStage(load_engine("sr2x", backend="auto"))
    stage.configure(VideoSpec(*SIZES["sr2x"]))

    def step(i: int) -> None:
        stage.process(Frame(frames.next(), pts=i * 40_000_000, duration=40_000_000, seq=i))

    return step


def measure(workload: str, frames: int, keep: bool) -> Measurement:
    """Time `frames` steps of `workload` in this process (after `WARMUP` untimed ones)."""
    from ganstream.stream.heap import keep_freed_heap

    kept = keep_freed_heap() if keep else False
    source = _ClipFrames(SIZES[workload])
    step = _interpolate_step(source) if workload == "interpolate" else _sr2x_step(source)
    for i in range(WARMUP):
        step(i)
    faults0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    t0 = time.perf_counter()
    for i in range(WARMUP, WARMUP + frames):
        step(i)
    seconds = time.perf_counter() - t0
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults0
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return Measurement(1000 * seconds / frames, faults / frames, rss_kib / 1024, kept)


def _child(workload: str, frames: int, keep: bool) -> Measurement:
    """`measure` in a fresh interpreter (the heap setting cannot be undone in this one)."""
    cmd = [sys.executable, "-m", "ganstream.stream.bench_heap", "--child", workload, "--frames", str(frames)]
    if keep:
        cmd.append("--keep")
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"bench_heap child failed: {proc.stderr.strip()[-400:]}")
    return Measurement(**json.loads(proc.stdout.strip().splitlines()[-1]))


@dataclass(frozen=True)
class WorkloadResult:
    workload: str
    default: list[Measurement]
    kept: list[Measurement]

    @property
    def ratio(self) -> float:
        """Default time over kept time (above 1: keeping freed pages is faster)."""
        return statistics.median(m.ms_per_frame for m in self.default) / statistics.median(
            m.ms_per_frame for m in self.kept
        )


def bench_heap(workloads: Sequence[str] = WORKLOADS, frames: int = 30, rounds: int = 3) -> list[WorkloadResult]:
    results = []
    for w in workloads:
        default: list[Measurement] = []
        kept: list[Measurement] = []
        for _ in range(rounds):  # interleaved, so a busy machine slows both alike
            default.append(_child(w, frames, keep=False))
            kept.append(_child(w, frames, keep=True))
        results.append(WorkloadResult(w, default, kept))
    return results


def format_results(results: Sequence[WorkloadResult]) -> str:
    lines = [
        "per frame, median of interleaved rounds, one fresh process each:",
        "| workload | frame size | heap | ms | page faults | peak RSS MiB | default / kept |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        w, h = SIZES[r.workload]
        for name, ms in (("glibc defaults", r.default), ("kept (`keep_freed_heap`)", r.kept)):
            applied = name.startswith("glibc") or all(m.kept for m in ms)
            label = name if applied else f"{name}, NOT APPLIED (MALLOC_* set, or not glibc)"
            lines.append(
                f"| {r.workload} | {w}x{h} | {label} | {statistics.median(m.ms_per_frame for m in ms):.1f} | "
                f"{statistics.median(m.faults_per_frame for m in ms):.0f} | "
                f"{statistics.median(m.rss_mib for m in ms):.0f} | "
                + (f"{r.ratio:.2f}x |" if name.startswith("kept") else "|")
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ganstream.stream.bench_heap", description=__doc__.split("\n")[0])
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help=f"comma-separated: {', '.join(WORKLOADS)}")
    parser.add_argument("--frames", type=int, default=30, help="timed frames per process (default 30)")
    parser.add_argument("--rounds", type=int, default=3, help="processes per setting (default 3)")
    parser.add_argument("--child", choices=WORKLOADS, help=argparse.SUPPRESS)
    parser.add_argument("--keep", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.frames < 1 or args.rounds < 1:
        parser.error("--frames and --rounds must be at least 1")
    if args.child:
        print(json.dumps(measure(args.child, args.frames, args.keep).__dict__))
        return 0
    workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = sorted(set(workloads) - set(WORKLOADS))
    if unknown or not workloads:
        parser.error(f"--workloads: unknown {', '.join(unknown) or '(none given)'}; choose from {', '.join(WORKLOADS)}")
    print(format_results(bench_heap(workloads, args.frames, args.rounds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
