"""How close the per-stream SR choice comes to the better of its two models, item by item.

    python -m ganstream.training.choice_report --data data --split train

For every photo and clip run of a split, and every input (clean area / bicubic downscale, H.264
at CRF 26, 30 and 33): the luma PSNR of the clean-input and the compressed-input model (each
with the stream's residual strength, as `ganstream run` applies them), the coding level the
choice reads (engines/input_choice.py: `StreamChoice` fed the item's frames, as a stream
opens), and so the choice's loss against an oracle that always picks the better model. The
thresholds in engines/input_choice.py are chosen with this on the train split; the test split
decides nothing (`--split test` is refused here). `--statistic` scores an alternative reading
of the frames the same way (a threshold chosen on the train split with `--sweep`, then
`--middle` on the selection split), so a new measure is judged against the shipped one on the
same items. `--statistic grid-level --sweep-zeros` scores the quantiser-trace thresholds
(`ZEROS_CLEAN_UPTO`, `ZEROS_COMPRESSED_ABOVE`) over a grid, on top of the grid's own reading.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from ganstream.engines.input_choice import (
    BLOCK,
    CLEAN_BELOW,
    COMPRESSED_ABOVE,
    ZEROS_CLEAN_UPTO,
    ZEROS_COMPRESSED_ABOVE,
    StreamChoice,
    blockiness,
    choice_members,
    coding_level,
    grid_aligned_zeros,
    grid_level,
    luma,
    too_small_for_grid,
    with_trace,
)
from ganstream.training.cli import DEFAULT_MODELS_DIR
from ganstream.training.codec import h264_roundtrip
from ganstream.training.evaluate import GainRunner, Image, crop_multiple, load_runner, resolve_model, split_items
from ganstream.training.metrics import psnr_y
from ganstream.training.sources import SELECTION, TRAIN

RUN_FRAMES = 3  # frames per clip run: the H.264 round trip codes P-frames too
RUNS_PER_CLIP = 4
CRFS = (26, 30, 33)


def grid_second_difference(frame: Image) -> float:
    """The second luma difference across the 8-px grid lines over its mean anywhere (both axes):
    a step at a block edge minus the slope beside it, so smooth ramps count less than in the
    plain ratio (1.0: no grid)."""
    g = luma(frame)
    if too_small_for_grid(g):
        return 1.0
    ddx, ddy = np.abs(np.diff(g, 2, axis=1)), np.abs(np.diff(g, 2, axis=0))
    across = ddx[:, BLOCK - 2 :: BLOCK].mean() + ddy[BLOCK - 2 :: BLOCK, :].mean()
    anywhere = ddx.mean() + ddy.mean()
    return float(across / anywhere) if anywhere > 0.5 else 1.0


def grid_edge_over_neighbours(frame: Image) -> float:
    """The luma step across the 8-px grid lines over the steps one pixel either side: H.264's
    deblocking filter smooths the pixels beside a block edge more than the edge itself."""
    g = luma(frame)
    if too_small_for_grid(g):
        return 1.0
    dx, dy = np.abs(np.diff(g, axis=1)), np.abs(np.diff(g, axis=0))
    edge = dx[:, BLOCK - 1 :: BLOCK].mean() + dy[BLOCK - 1 :: BLOCK, :].mean()
    before, after = slice(BLOCK - 2, None, BLOCK), slice(BLOCK, None, BLOCK)
    beside = (dx[:, before].mean() + dx[:, after].mean() + dy[before, :].mean() + dy[after, :].mean()) / 2
    return float(edge / beside) if beside > 0.25 else 1.0


def stream_level(frames: Image) -> float:
    """The level the shipped choice reads from an item as a stream opens on it (its first frame
    alone, then the second with the first): what it decides the item's frames with."""
    choice = StreamChoice()
    for f in frames:
        choice.observe(f)
    return choice.level


def opening(frames: Image) -> tuple[Image, Image | None]:
    """The frame that settles a stream's opening choice and the one it is read with (none for a
    single frame): the second and the first."""
    return (frames[1], frames[0]) if len(frames) > 1 else (frames[0], None)


def opening_grid_level(frames: Image) -> float:
    """The opening reading of the grid and the unchanged blocks alone (no quantiser trace)."""
    return grid_level(*opening(frames))


# What the choice could read: the shipped reading (`coding-level`, as a stream opens) and the
# alternatives measured against it, each a mean over the item's frames read one at a time
# (`coding-level-one-frame`: the shipped reading without the frame before; `grid-level`: the
# opening reading without the quantiser trace, for `--sweep-zeros`).
STREAM_STATISTICS: dict[str, Callable[[Image], float]] = {
    "coding-level": stream_level,
    "grid-level": opening_grid_level,
}
STATISTICS: dict[str, Callable[[Image], float]] = {
    "coding-level-one-frame": coding_level,
    "block-grid": blockiness,
    "grid-second-difference": grid_second_difference,
    "grid-edge-over-neighbours": grid_edge_over_neighbours,
}


@dataclass
class Item:
    name: str
    input: str
    ratio: float  # the statistic's reading of the item's frames
    gain: float  # clean-input model minus compressed-input model, dB
    zeros: float = 0.0  # the quantiser's trace on the opening frame (`grid_aligned_zeros`)


def inputs_of(frames: Image) -> dict[str, Image]:
    _, h, w, _ = frames.shape
    area = np.stack([cv2.resize(f, (w // 2, h // 2), interpolation=cv2.INTER_AREA) for f in frames])
    out = {"clean (area)": area}
    out["clean (bicubic)"] = np.stack([cv2.resize(f, (w // 2, h // 2), interpolation=cv2.INTER_CUBIC) for f in frames])
    for crf in CRFS:
        out[f"H.264 CRF {crf}"] = h264_roundtrip(area, crf=crf)
    return out


def measure(
    data: Path, split: str, choice: str, models_dir: Path, limit: int = 0, statistic: str = "coding-level"
) -> list[Item]:
    members = choice_members(choice)
    if members is None:
        raise SystemExit(f"choice_report: {choice!r} is not a per-stream choice (NAME-auto)")
    runners = []
    for m in members:
        card, runner, _ = load_runner(resolve_model(m, models_dir), "ort", "fp32")
        runners.append(GainRunner(runner, card.task, int(card.scale)))
    read: Callable[[Image], float] = (
        STREAM_STATISTICS[statistic]
        if statistic in STREAM_STATISTICS
        else lambda x: float(np.mean([STATISTICS[statistic](f) for f in x]))
    )
    out = []
    # cropped as `ganstream eval` crops them: a coded source's grid then falls on the same pixels
    # (cropped one pixel over, the fish tanks of the selection split read "clean" where eval reads
    # "compressed": their source's block grid lands on every second pixel)
    items = split_items(data, split, crop_multiple(2), RUNS_PER_CLIP, RUN_FRAMES)
    for item in tqdm(items[:limit] if limit else items, desc=f"{split} items", unit="item"):
        name, frames = item.name, item.frames
        for label, x in inputs_of(frames).items():
            clean, coded = (
                float(np.mean([psnr_y(o, g, 2) for o, g in zip(r(x), frames, strict=True)])) for r in runners
            )
            out.append(Item(name, label, read(x), clean - coded, grid_aligned_zeros(opening(x)[0])))
    return out


def _psnr(out: Image, truth: Image) -> float:
    return float(np.mean([psnr_y(o, g, 2) for o, g in zip(out, truth, strict=True)]))


# A single reading per item: above the band's middle the stream starts on the compressed model.
BAND_MIDDLE = (CLEAN_BELOW + COMPRESSED_ABOVE) / 2


def _reads_clean(rows: list[Item], middle: float = BAND_MIDDLE) -> np.ndarray:
    return np.array([i.ratio <= middle for i in rows])


def losses_per_input(items: list[Item], middle: float = BAND_MIDDLE) -> dict[str, float]:
    """The choice's loss to the oracle (dB, mean over items) per input, reading compressed above
    `middle`."""
    out = {}
    for label in dict.fromkeys(i.input for i in items):
        rows = [i for i in items if i.input == label]
        gains = np.array([i.gain for i in rows])
        out[label] = float(np.maximum(gains, 0.0).mean() - np.where(_reads_clean(rows, middle), gains, 0.0).mean())
    return out


def sweep(items: list[Item], middles: list[float]) -> str:
    """The choice's loss to the oracle per input if the band's middle were each of `middles` (the
    band keeps its width): the table a threshold is chosen with."""
    inputs = list(dict.fromkeys(i.input for i in items))
    lines = [
        "| band middle | " + " | ".join(inputs) + " | mean |",
        "| ---: | " + " | ".join("---:" for _ in inputs) + " | ---: |",
    ]
    for middle in sorted({*middles, BAND_MIDDLE}):
        losses = list(losses_per_input(items, middle).values())
        mark = " (now)" if abs(middle - BAND_MIDDLE) < 1e-9 else ""
        cells = " | ".join(f"{x:.3f}" for x in losses)
        shown = f"{middle:.2f}" if abs(middle - round(middle, 2)) < 1e-9 else f"{middle:.3f}"
        lines.append(f"| {shown}{mark} | {cells} | {np.mean(losses):.3f} |")
    return "\n".join(lines)


def sweep_middles(items: list[Item], statistic: str) -> list[float]:
    """The band middles a sweep tries: the shipped range for the coding level and the block-grid
    ratio, else 13 steps between the 10th and 90th percentile of the items' readings."""
    if statistic in ("coding-level", "coding-level-one-frame", "block-grid"):
        return [round(1.06 + 0.02 * k, 2) for k in range(13)]
    lo, hi = np.percentile([i.ratio for i in items], [10, 90])
    return [round(float(x), 3) for x in np.linspace(lo, hi, 13)]


def with_zeros(items: list[Item], clean_upto: float, compressed_above: float) -> list[Item]:
    """`items` (read with `grid-level`) as `coding_level` reads them with these trace thresholds."""
    return [
        Item(i.name, i.input, with_trace(i.ratio, i.zeros, clean_upto, compressed_above), i.gain, i.zeros)
        for i in items
    ]


def sweep_zeros(items: list[Item]) -> str:
    """The choice's loss to the oracle, mean over the inputs, for a grid of both trace thresholds
    (rows: read clean at most; columns: read compressed above): the table they are fitted with."""
    uptos = [round(0.001 * k, 3) for k in range(13)]
    aboves = [0.03, 0.045, 0.065, 0.08, float("inf")]

    def loss(rows: list[Item]) -> float:
        return float(np.mean(list(losses_per_input(rows).values())))

    lines = [
        "| clean at most \\ compressed above | " + " | ".join(f"{a:g}" for a in aboves) + " |",
        "| ---: | " + " | ".join("---:" for _ in aboves) + " |",
        f"| (no trace) | {loss(items):.4f} |" + " |" * (len(aboves) - 1),
    ]
    for u in uptos:
        cells = []
        for a in aboves:
            mark = " (now)" if (u, a) == (ZEROS_CLEAN_UPTO, ZEROS_COMPRESSED_ABOVE) else ""
            cells.append(f"{loss(with_zeros(items, u, a)):.4f}{mark}")
        lines.append(f"| {u:.3f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(items: list[Item], middle: float = BAND_MIDDLE) -> str:
    lines = [
        "| input | items | clean model better | clean minus compressed model | choice vs compressed model | "
        "oracle vs compressed model | choice's loss to the oracle | misread |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label in dict.fromkeys(i.input for i in items):
        rows = [i for i in items if i.input == label]
        gains = np.array([i.gain for i in rows])
        clean = _reads_clean(rows, middle)
        chosen = np.where(clean, gains, 0.0)
        oracle = np.maximum(gains, 0.0)
        misread = int(np.sum(clean != (gains > 0)))
        lines.append(
            f"| {label} | {len(rows)} | {np.mean(gains > 0):.0%} | {gains.mean():+.3f} | {chosen.mean():+.3f} | "
            f"{oracle.mean():+.3f} | {oracle.mean() - chosen.mean():.3f} | {misread} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ganstream.training.choice_report", description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=Path("data"))
    p.add_argument("--split", choices=(TRAIN, SELECTION), default=TRAIN)
    p.add_argument("--choice", default="sr2x-auto")
    p.add_argument("--models-dir", type=Path, default=Path(DEFAULT_MODELS_DIR))
    p.add_argument("--max-items", type=int, default=0, help="first N items only (0: all)")
    p.add_argument(
        "--statistic",
        choices=(*STREAM_STATISTICS, *STATISTICS),
        default="coding-level",
        help="what the choice reads: the shipped reading (coding-level) or an alternative to compare",
    )
    p.add_argument("--middle", type=float, default=BAND_MIDDLE, help="read compressed above this (default: shipped)")
    p.add_argument("--sweep", action="store_true", help="also the loss to the oracle at 13 band middles")
    p.add_argument("--items", action="store_true", help="also every item's reading and gain")
    p.add_argument(
        "--sweep-zeros",
        action="store_true",
        help="with --statistic grid-level: the loss to the oracle over a grid of the quantiser-trace thresholds",
    )
    args = p.parse_args(argv)
    if args.sweep_zeros and args.statistic != "grid-level":
        p.error("--sweep-zeros reads the grid without the trace: add --statistic grid-level")
    items = measure(args.data, args.split, args.choice, args.models_dir, args.max_items, args.statistic)
    print(f"statistic: {args.statistic}, read compressed above {args.middle:.3f}")
    print(report(items, args.middle))
    if args.sweep:
        print()
        print(sweep(items, sweep_middles(items, args.statistic)))
    if args.sweep_zeros:
        print()
        print(sweep_zeros(items))
    if args.items:
        print()
        print(f"| item | input | {args.statistic} | clean minus compressed model |")
        print("| --- | --- | ---: | ---: |")
        for i in sorted(items, key=lambda i: i.ratio):
            print(f"| {i.name} | {i.input} | {i.ratio:.3f} | {i.gain:+.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
