"""`ganstream bench interp`: the classical interpolators' time per in-between frame against ffmpeg's
minterpolate (mi_mode=mci) at one frame size, in the same run.

The issue's floor is stated at 640x360 on the machine at hand; `ganstream eval interp` times the
same methods on its clips, whose sizes vary. Here every method rebuilds the frames between the
same consecutive frames of one clip (the sample clip by default), resized to `--size`, in
interleaved rounds so a busy machine slows all alike; each round gives every method its own
ratio to minterpolate's time, and the median ratio is printed with the spread of the rounds.
Times are per rebuilt frame; ours include the flow, minterpolate's are net of its pipe round
trip (`minterpolate_double`).
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ganstream.training.errors import ConfigError
from ganstream.training.interp.minterpolate import minterpolate_double

Image = npt.NDArray[np.uint8]
METHODS = ("flow", "flow-refined", "flow-large")
FLOOR = 3.0  # the issue's: at least 3x minterpolate's speed


@dataclass(frozen=True)
class MethodTiming:
    name: str
    ms: list[float]  # per round, per rebuilt frame
    ratios: list[float]  # per round: minterpolate's time over this method's

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)


def clip_frames(path: Path, size: tuple[int, int], count: int) -> list[Image]:
    """`count` consecutive RGB frames of `path` resized to `size` (width, height)."""
    from ganstream.engines.calib import consecutive_frames

    frames = consecutive_frames(path, count, size)
    if len(frames) < 3:
        raise ConfigError(f"{path}: fewer than 3 readable frames")
    return frames


def bench_interp(frames: Sequence[Image], methods: Sequence[str] = METHODS, rounds: int = 3) -> list[MethodTiming]:
    """Each method's time per frame rebuilt between consecutive `frames`, and its ratio to
    minterpolate's in the same round."""
    from ganstream.training.interp.evaluate import make_synth

    synths = {name: make_synth(name) for name in methods}
    pairs = list(itertools.pairwise(frames))
    for synth in synths.values():  # first calls (DIS set-up, grids) untimed
        synth.synthesize(*pairs[0], [0.5])
    ms: dict[str, list[float]] = {name: [] for name in methods}
    ratios: dict[str, list[float]] = {name: [] for name in methods}
    mci_ms: list[float] = []
    for _ in range(rounds):
        _, mci_seconds = minterpolate_double(list(frames), fps=50.0)
        mci_ms.append(1000 * mci_seconds)
        for name, synth in synths.items():
            t0 = time.perf_counter()
            for a, b in pairs:
                synth.synthesize(a, b, [0.5])
            seconds = (time.perf_counter() - t0) / len(pairs)
            ms[name].append(1000 * seconds)
            ratios[name].append(mci_seconds / seconds)
    for synth in synths.values():
        synth.close()
    out = [MethodTiming(name, ms[name], ratios[name]) for name in methods]
    return [*out, MethodTiming("minterpolate", mci_ms, [1.0] * rounds)]


def format_results(results: Sequence[MethodTiming], size: tuple[int, int], heap_kept: bool) -> str:
    heap = "freed heap pages kept, as `ganstream run`" if heap_kept else "glibc's default heap"
    lines = [
        f"per in-between frame at {size[0]}x{size[1]}, median of interleaved rounds ({heap}):",
        f"| method | ms | speed vs minterpolate | per round, lowest - highest | at least {FLOOR:g}x |",
        "| --- | ---: | ---: | --- | --- |",
    ]
    for r in results:
        if r.name == "minterpolate":
            lines.append(f"| minterpolate (mci) | {statistics.median(r.ms):.1f} | 1.00x | | |")
            continue
        floor = "yes" if r.ratio >= FLOOR else "no"
        lines.append(
            f"| {r.name} | {statistics.median(r.ms):.1f} | {r.ratio:.2f}x | "
            f"{min(r.ratios):.2f}x - {max(r.ratios):.2f}x | {floor} |"
        )
    return "\n".join(lines)


def parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ConfigError(f"--size {text!r}: expected WIDTHxHEIGHT, e.g. 640x360") from None
    if w < 32 or h < 32 or w % 2 or h % 2:
        raise ConfigError(f"--size {text!r}: width and height must be even and at least 32")
    return w, h


def parse_methods(text: str) -> list[str]:
    from ganstream.training.interp.evaluate import CLASSICAL_SYNTHS

    names = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in names if m not in CLASSICAL_SYNTHS and not m.startswith("flow:")]
    if not names or unknown:
        raise ConfigError(
            f"--model: unknown {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(CLASSICAL_SYNTHS)} or flow:PRESET:DOWNSCALE[...]"
        )
    return names
