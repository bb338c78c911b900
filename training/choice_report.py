"""How close the per-stream SR choice comes to the better of its two models, item by item.

    python -m ganstream.training.choice_report --data data --split train

For every photo and clip run of a split, and every input (clean area / bicubic downscale, H.264
at CRF 26, 30 and 33): the luma PSNR of the clean-input and the compressed-input model (each
with the stream's residual strength, as `ganstream run` applies them), the block-grid ratio the
choice reads (engines/input_choice.py), and so the choice's loss against an oracle that always
picks the better model. The thresholds in engines/input_choice.py are chosen with this on the
train split; the test split decides nothing (`--split test` is refused here).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from ganstream.engines.input_choice import CLEAN_BELOW, COMPRESSED_ABOVE, blockiness, choice_members
from ganstream.training.cli import DEFAULT_MODELS_DIR
from ganstream.training.codec import h264_roundtrip
from ganstream.training.evaluate import GainRunner, Image, load_runner, resolve_model, split_items
from ganstream.training.metrics import psnr_y
from ganstream.training.sources import SELECTION, TRAIN

RUN_FRAMES = 3  # frames per clip run: the H.264 round trip codes P-frames too
RUNS_PER_CLIP = 4
CRFS = (26, 30, 33)


@dataclass
class Item:
    name: str
    input: str
    ratio: float  # the block-grid ratio, mean over the item's frames
    gain: float  # clean-input model minus compressed-input model, dB


def inputs_of(frames: Image) -> dict[str, Image]:
    _, h, w, _ = frames.shape
    area = np.stack([cv2.resize(f, (w // 2, h // 2), interpolation=cv2.INTER_AREA) for f in frames])
    out = {"clean (area)": area}
    out["clean (bicubic)"] = np.stack([cv2.resize(f, (w // 2, h // 2), interpolation=cv2.INTER_CUBIC) for f in frames])
    for crf in CRFS:
        out[f"H.264 CRF {crf}"] = h264_roundtrip(area, crf=crf)
    return out


def measure(data: Path, split: str, choice: str, models_dir: Path, limit: int = 0) -> list[Item]:
    members = choice_members(choice)
    if members is None:
        raise SystemExit(f"choice_report: {choice!r} is not a per-stream choice (NAME-auto)")
    runners = []
    for m in members:
        card, runner, _ = load_runner(resolve_model(m, models_dir), "ort", "fp32")
        runners.append(GainRunner(runner, card.task, int(card.scale)))
    out = []
    items = split_items(data, split, 8, RUNS_PER_CLIP, RUN_FRAMES)
    for item in tqdm(items[:limit] if limit else items, desc=f"{split} items", unit="item"):
        name, frames = item.name, item.frames
        for label, x in inputs_of(frames).items():
            clean, coded = (
                float(np.mean([psnr_y(o, g, 2) for o, g in zip(r(x), frames, strict=True)])) for r in runners
            )
            out.append(Item(name, label, float(np.mean([blockiness(f) for f in x])), clean - coded))
    return out


def _psnr(out: Image, truth: Image) -> float:
    return float(np.mean([psnr_y(o, g, 2) for o, g in zip(out, truth, strict=True)]))


# A single reading per item: above the band's middle the stream starts on the compressed model.
BAND_MIDDLE = (CLEAN_BELOW + COMPRESSED_ABOVE) / 2


def _reads_clean(rows: list[Item], middle: float = BAND_MIDDLE) -> np.ndarray:
    return np.array([i.ratio <= middle for i in rows])


def sweep(items: list[Item], middles: list[float]) -> str:
    """The choice's loss to the oracle per input if the band's middle were each of `middles` (the
    band keeps its width): the table a threshold is chosen with."""
    by_input: dict[str, list[Item]] = {}
    for i in items:
        by_input.setdefault(i.input, []).append(i)
    lines = [
        "| band middle | " + " | ".join(by_input) + " | mean |",
        "| ---: | " + " | ".join("---:" for _ in by_input) + " | ---: |",
    ]
    for middle in sorted({*middles, BAND_MIDDLE}):
        losses = []
        for rows in by_input.values():
            gains = np.array([i.gain for i in rows])
            losses.append(
                float(np.maximum(gains, 0.0).mean() - np.where(_reads_clean(rows, middle), gains, 0.0).mean())
            )
        mark = " (now)" if abs(middle - BAND_MIDDLE) < 1e-9 else ""
        cells = " | ".join(f"{x:.3f}" for x in losses)
        lines.append(f"| {middle:.2f}{mark} | {cells} | {np.mean(losses):.3f} |")
    return "\n".join(lines)


def report(items: list[Item]) -> str:
    lines = [
        "| input | items | clean model better | clean minus compressed model | choice vs compressed model | "
        "oracle vs compressed model | choice's loss to the oracle | misread |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label in dict.fromkeys(i.input for i in items):
        rows = [i for i in items if i.input == label]
        gains = np.array([i.gain for i in rows])
        clean = _reads_clean(rows)
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
    p.add_argument("--sweep", action="store_true", help="also the loss to the oracle at band middles 1.06 to 1.30")
    p.add_argument("--items", action="store_true", help="also every item's block-grid ratio and gain")
    args = p.parse_args(argv)
    items = measure(args.data, args.split, args.choice, args.models_dir, args.max_items)
    print(report(items))
    if args.sweep:
        print()
        print(sweep(items, [round(1.06 + 0.02 * k, 2) for k in range(13)]))
    if args.items:
        print()
        print("| item | input | block-grid ratio | clean minus compressed model |")
        print("| --- | --- | ---: | ---: |")
        for i in sorted(items, key=lambda i: i.ratio):
            print(f"| {i.name} | {i.input} | {i.ratio:.3f} | {i.gain:+.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
