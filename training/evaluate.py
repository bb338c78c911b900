"""``ganstream eval``: Y-PSNR / SSIM of shipped models against classical baselines, in one run.

Frames come from one split of the data manifest (whole clips and photos never seen in
training): ``selection`` (the default) for every choice between models, ``test`` only to report
on footage from packages that neither training nor selection touched. Super-resolution is
scored on clean area- and bicubic-downscaled frames and on
frames that went through real H.264 at a low bitrate, against bicubic and Lanczos upscaling;
restoration on noisy (clipped Gaussian, sigma 15), dim noisy (the same noise on frames at 0.3x
their brightness: night footage) and H.264-degraded frames against ffmpeg's hqdn3d and nlmeans
at the strength tuned on the selection split, with per-frame timings at 640x360. Flicker (the frame-to-frame change
added over the ground truth's) is measured on runs of consecutive clip frames. Side-by-side
PNGs go to ``images_dir``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from ganstream.engines.card import ModelCard
from ganstream.engines.errors import ModelNotFoundError
from ganstream.engines.input_choice import InputChoice, choice_members
from ganstream.training.codec import EVAL_H264_CRF, ffmpeg_filter, h264_roundtrip
from ganstream.training.dataset import load_pool
from ganstream.training.errors import ConfigError
from ganstream.training.eval_compare import head_to_head_markdown
from ganstream.training.metrics import detail_ratio, flicker, psnr_y, ssim_y
from ganstream.training.sources import SELECTION, TEST

Image = npt.NDArray[np.uint8]
Runner = Callable[[Image], Image]  # (N, H, W, 3) uint8 -> (N, H', W', 3) uint8

NOISE_SIGMA = 15.0
# The restore baseline: ffmpeg's nlmeans at the strength that scored best on the selection split
# (s in 5, 7, 9, 11, 13): 11 on noise of sigma 15 (36.68 dB; s=7, used before, 33.48), 5 on H.264.
NLMEANS_REF = "nlmeans (tuned)"
NLMEANS_STRENGTH = {"noise sigma 15": 11, "H.264": 5}
NLMEANS = "nlmeans=s=11"  # speed comparisons: the strength of the noise set
HQDN3D = "hqdn3d"
H264_SET = f"H.264 CRF {EVAL_H264_CRF:g}"
# `--smooth`: a stand-in for smooth, high-quality footage (a close-up with a soft background, a
# plain wall), which the real clips of the selection split lack: every item's ground truth
# softened by a Gaussian blur of this sigma (pixels at full size), then downscaled with INTER_AREA.
# A model that learned to sharpen soft input adds detail there that the picture does not have.
SMOOTH_SIGMA = 1.0
SMOOTH_SET = f"smooth (blur {SMOOTH_SIGMA:g}, area)"
DIM_FACTOR = 0.3
DIM_SET = f"noise sigma 15, dim (x{DIM_FACTOR:g})"  # nlmeans keeps the strength of "noise sigma 15"
MAX_SIDE = 960  # large photos are centre-cropped to keep the classical baselines quick
CLIP_RUNS = 2  # runs of consecutive frames per validation clip


def engine_precision(precision: str) -> str | None:
    """The loader's precision for the eval's: "auto" is the per-machine measured choice that
    `ganstream run` makes (None to the loader), so the eval can score what a user's run computes."""
    return None if precision == "auto" else precision


def load_runner(folder: Path, backend: str = "openvino", precision: str = "fp32") -> tuple[ModelCard, Runner, str]:
    """Open a model folder with the runtime's loader (OpenVINO by default: the fast CPU path).

    A recurrent model's runner takes a whole run of frames as one stream (`RecurrentRunner`).
    """
    from ganstream.engines import load_engine

    engine = load_engine(folder, backend=backend, precision=engine_precision(precision))
    used = f"{engine.backend} {engine.precision}"
    if engine.card.recurrent:
        return engine.card, RecurrentRunner(engine), used

    def run(x: Image) -> Image:
        return np.asarray(engine.infer(x), dtype=np.uint8)

    return engine.card, run, used


class GainRunner:
    """`runner` as `ganstream run` applies it: each call (a clip run or a photo) is a new stream,
    with the stream's measured strength unless `gain` is off. A per-stream model `choice`
    (``engines.input_choice``) is reset for each call and reads every frame, as the stage does."""

    whole_run = True  # called once per clip run, not per frame

    def __init__(self, runner: Runner, task: str, scale: int, choice: Any = None, gain: bool = True) -> None:
        self.runner, self.task, self.scale, self.choice, self.gain = runner, task, scale, choice, gain

    def with_gain(self, gain: bool) -> GainRunner:
        return GainRunner(self.runner, self.task, self.scale, self.choice, gain)

    def __call__(self, frames: Image) -> Image:
        from ganstream.engines.strength import strength_for

        if self.choice is not None:
            self.choice.reset()
        gain = strength_for(self.task, self.scale, lambda f: self.runner(f[None])[0]) if self.gain else None
        if gain is None and self.choice is None:
            return _run_batched(self.runner, frames)
        outs = []
        for f in frames:
            if self.choice is not None:
                self.choice.observe(f)
            out = self.runner(f[None])[0]
            if gain is not None:
                gain.observe(f, out)
                out = gain.apply(f, out)
            outs.append(out)
        return np.stack(outs)


class RecurrentRunner:
    """A recurrent model (vsr2x, vrestore) as `ganstream run` runs it: each call is a new stream,
    its frames in order, the previous output fed back; the stream's strength (residual gain for
    SR, restore strength for restore) is measured on single frames unless `gain` is off."""

    whole_run = True

    def __init__(self, engine: Any, gain: bool = False) -> None:
        self.engine, self.gain = engine, gain

    def with_gain(self, gain: bool) -> RecurrentRunner:
        return RecurrentRunner(self.engine, gain)

    def __call__(self, frames: Image, flows: Sequence[Any] | None = None) -> Image:
        """`flows`: per frame, the flow back to the previous one that the temporal filter computed
        (None where it computed none), reused by the memory as the stages do."""
        from ganstream.engines.recurrence import Recurrence, RecurrenceSpec, initial_previous
        from ganstream.engines.strength import strength_for

        spec = RecurrenceSpec.from_card(self.engine.card)
        assert spec is not None
        s = spec.scale

        def single(f: Image) -> Image:
            return np.asarray(self.engine.infer(f[None], initial_previous(f, spec)[None])[0])

        rec = Recurrence(spec)
        previous: list[Image] = []  # the memory the current frame ran with

        def with_memory(f: Image) -> Image:
            return np.asarray(self.engine.infer(f[None], previous[-1][None])[0])

        # As the stages measure it: SR on single frames one scale down, restore with the frame's memory
        gain = strength_for(str(self.engine.card.task), s, single if s > 1 else with_memory) if self.gain else None
        outs = []
        for i, f in enumerate(frames):
            previous[:] = [rec.previous_for(f, flows[i] if flows is not None else None)]
            raw = np.asarray(self.engine.infer(f[None], previous[0][None])[0])
            rec.update(raw)
            if gain is not None:
                gain.observe(f, raw)
                raw = gain.apply(f, raw)
            outs.append(raw)
        return np.stack(outs)


def load_choice(
    name: str, members: tuple[str, str], models_dir: Path, backend: str, precision: str, residual_gain: str
) -> tuple[ModelCard, dict[str, Runner], str]:
    """`NAME-auto` (e.g. sr2x-auto): NAME-clean and NAME chosen per stream, as `ganstream run` does."""
    from ganstream.engines import load_engine

    clean, compressed = (
        load_engine(resolve_model(m, models_dir), backend=backend, precision=engine_precision(precision))
        for m in members
    )
    choice = InputChoice(clean, compressed)
    card = compressed.card

    def run(x: Image) -> Image:
        return np.asarray(choice.infer(x), dtype=np.uint8)

    runner = GainRunner(run, str(card.task), int(card.scale), choice=choice, gain=residual_gain != "off")
    runs: dict[str, Runner] = {name: runner}
    if residual_gain == "both":
        runs[f"{name} (no gain)"] = runner.with_gain(False)
    used = f"{compressed.backend} {compressed.precision}"
    if clean.precision != compressed.precision:  # measured per model with --precision auto
        used += f" (clean half {clean.precision})"
    return card, runs, used


def check_eval_mode(value: str, what: str) -> None:
    """An eval option that scores a model as `run` runs it (auto), without the step (off), or both."""
    if value not in ("auto", "off", "both"):
        raise ConfigError(f"eval: {what} must be auto, off or both, got {value!r}")


class BlendRunner:
    """`runner` on one clip run (a new stream) whose frames first went through the stages'
    temporal filter (``engines.temporal_blend``): what `ganstream run` does for a restore model."""

    whole_run = True

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    def __call__(self, frames: Image) -> Image:
        from ganstream.engines.recurrence import RecurrenceSpec
        from ganstream.engines.temporal_blend import TemporalBlend

        spec = RecurrenceSpec.from_card(self.runner.engine.card) if isinstance(self.runner, RecurrentRunner) else None
        blend = TemporalBlend(flow=spec.flow if spec is not None else None)
        filtered, flows = [], []
        for f in frames:
            filtered.append(blend.apply(f, f))
            flows.append(blend.last_flow)
        if isinstance(self.runner, RecurrentRunner):  # its memory reuses the filter's flow, as in the stages
            return self.runner(np.stack(filtered), flows)
        whole = bool(getattr(self.runner, "whole_run", False))
        return self.runner(np.stack(filtered)) if whole else _run_batched(self.runner, np.stack(filtered))


def scored_runners(
    card: ModelCard, runner: Runner, residual_gain: str, temporal_blend: str = "auto"
) -> dict[str, Runner]:
    """The runs of one model an eval scores, by name: as `ganstream run` runs it (with the stream's
    measured strength, and for restore models the temporal filter of the input) unless `residual_gain` /
    `temporal_blend` is "off", and without it too when "both"."""
    with_gain = card.task in ("sr", "restore") and residual_gain != "off"
    runs: dict[str, Runner] = {}
    if isinstance(runner, RecurrentRunner):
        runs[card.name] = runner.with_gain(with_gain)
    else:
        runs[card.name] = GainRunner(runner, card.task, card.scale) if with_gain else runner
    if with_gain and residual_gain == "both":
        runs[f"{card.name} (no gain)"] = runner
    if card.task != "restore" or temporal_blend == "off":
        return runs
    blended: dict[str, Runner] = {name: BlendRunner(r) for name, r in runs.items()}
    if temporal_blend == "both":
        blended[f"{card.name} (no blend)"] = runs[card.name]
    return blended


def resolve_model(name: str, models_dir: Path) -> Path:
    for cand in (Path(name), models_dir / name):
        if (cand / "card.json").is_file():
            return cand
    raise ModelNotFoundError(f"model {name!r}: no card.json in {name} or {models_dir / name}")


@dataclass
class Clip:
    """A validation item: one photo (T=1) or a run of consecutive clip frames."""

    name: str
    frames: Image  # (T, H, W, 3)


EVAL_SPLITS = (SELECTION, TEST)


def crop_multiple(scale: int) -> int:
    """What an item's size is cropped to a multiple of: its x`scale` downscale stays even (H.264
    yuv420p). Whoever reads a split's items for a model of this scale crops with it, so a coded
    source's block grid falls on the same pixels as in `ganstream eval`."""
    return 2 * scale


def validation_items(data_dir: Path, multiple: int, max_frames: int = 0, split: str = SELECTION) -> list[Clip]:
    """Photos and clip runs of one held-out split; never the training split."""
    if split not in EVAL_SPLITS:
        raise ConfigError(f"eval: split must be one of {', '.join(EVAL_SPLITS)}, got {split!r}")
    items = split_items(data_dir, split, multiple)
    return items[:max_frames] if max_frames else items


def split_items(
    data_dir: Path, split: str, multiple: int, runs_per_clip: int = CLIP_RUNS, run_frames: int = 0
) -> list[Clip]:
    """Every photo of `split` and the first `runs_per_clip` runs of each of its clips (their first
    `run_frames` frames; 0: all), centre-cropped to at most MAX_SIDE and to a multiple of `multiple`.

    Any split: `validation_items` is the held-out view for scores; the train split serves
    diagnostics such as ``choice_report``.
    """
    pool, _ = load_pool(data_dir, split, min_side=64)
    items = [Clip(name, _crop(img[None], multiple)) for name, img in zip(pool.names, pool.photos, strict=False)]
    seen: dict[str, int] = {}
    for name, run in zip(pool.names[len(pool.photos) :], pool.runs, strict=True):
        clip = name.split("#")[0]
        if seen.get(clip, 0) >= runs_per_clip:
            continue
        seen[clip] = seen.get(clip, 0) + 1
        items.append(Clip(name, _crop(np.stack(run[:run_frames] if run_frames else run), multiple)))
    return items


def _crop(frames: Image, multiple: int) -> Image:
    _, h, w, _ = frames.shape
    ch, cw = min(h, MAX_SIDE * 2 // 3), min(w, MAX_SIDE)
    ch, cw = ch - ch % multiple, cw - cw % multiple
    y, x = (h - ch) // 2, (w - cw) // 2
    return np.ascontiguousarray(frames[:, y : y + ch, x : x + cw])


def _resize(frames: Image, size: tuple[int, int], interp: int) -> Image:
    return np.stack([cv2.resize(f, size, interpolation=interp) for f in frames])


@dataclass
class Score:
    psnr: list[float] = field(default_factory=list)
    ssim: list[float] = field(default_factory=list)
    flicker: list[float] = field(default_factory=list)
    detail: list[float] = field(default_factory=list)
    seconds: float = 0.0
    frames: int = 0
    per_clip: dict[str, list[float]] = field(default_factory=dict)  # clip or photo -> Y-PSNR per frame
    bias: list[npt.NDArray[np.float64]] = field(default_factory=list)  # mean output - truth per channel

    def add(self, out: Image, gt: Image, border: int, clip: str = "") -> None:
        for o, g in zip(out, gt, strict=True):
            self.psnr.append(psnr_y(o, g, border))
            self.ssim.append(ssim_y(o, g, border))
            self.detail.append(detail_ratio(o, g, border))
            self.per_clip.setdefault(clip, []).append(self.psnr[-1])
            self.bias.append((o.astype(np.float64) - g).mean(axis=(0, 1)))
        if len(out) > 1:
            self.flicker.append(flicker(out, gt))


def _timed(fn: Callable[[Image], Image], x: Image, score: Score) -> Image:
    t = time.perf_counter()
    y = fn(x)
    score.seconds += time.perf_counter() - t
    score.frames += len(x)
    return y


def _run_batched(runner: Runner, frames: Image) -> Image:
    return np.concatenate([runner(f[None]) for f in frames])


def clip_of(item: Clip) -> str:
    """The clip or photo an item comes from (runs of one clip are named clip#k)."""
    return item.name.split("#")[0]


def _sr_sets(items: list[Clip], scale: int, smooth: bool = False) -> dict[str, list[tuple[Image, Image]]]:
    sets: dict[str, list[tuple[Image, Image]]] = {"clean (area)": [], "clean (bicubic)": [], H264_SET: []}
    if smooth:
        sets[SMOOTH_SET] = []
    for it in items:
        _, h, w, _ = it.frames.shape
        lr_area = _resize(it.frames, (w // scale, h // scale), cv2.INTER_AREA)
        sets["clean (area)"].append((lr_area, it.frames))
        sets["clean (bicubic)"].append((_resize(it.frames, (w // scale, h // scale), cv2.INTER_CUBIC), it.frames))
        sets[H264_SET].append((h264_roundtrip(lr_area, crf=EVAL_H264_CRF), it.frames))
        if smooth:
            soft = np.stack([cv2.GaussianBlur(f, (0, 0), SMOOTH_SIGMA) for f in it.frames])
            sets[SMOOTH_SET].append((_resize(soft, (w // scale, h // scale), cv2.INTER_AREA), soft))
    return sets


def _restore_sets(items: list[Clip]) -> dict[str, list[tuple[Image, Image]]]:
    rng = np.random.default_rng(2024)
    dim_rng = np.random.default_rng(2025)  # its own stream: the other sets' noise stays as it was
    sets: dict[str, list[tuple[Image, Image]]] = {"noise sigma 15": [], DIM_SET: [], H264_SET: []}
    for it in items:
        noisy = np.clip(it.frames.astype(np.float64) + rng.normal(0, NOISE_SIGMA, it.frames.shape) + 0.5, 0, 255)
        sets["noise sigma 15"].append((noisy.astype(np.uint8), it.frames))
        # A dim scene (night, a dark room): the ground truth itself is dim, the noise the same;
        # near black, noise is clipped, which is where noise estimates and denoisers go wrong.
        dim = np.clip(it.frames.astype(np.float64) * DIM_FACTOR + 0.5, 0, 255)
        dim_noisy = np.clip(dim + dim_rng.normal(0, NOISE_SIGMA, it.frames.shape) + 0.5, 0, 255)
        sets[DIM_SET].append((dim_noisy.astype(np.uint8), dim.astype(np.uint8)))
        sets[H264_SET].append((h264_roundtrip(it.frames, crf=EVAL_H264_CRF), it.frames))
    return sets


def _baselines(task: str, scale: int, names: list[str]) -> dict[str, Callable[[Image], Image]]:
    out: dict[str, Callable[[Image], Image]] = {}
    if task == "sr":
        kernels = {"bicubic": cv2.INTER_CUBIC, "lanczos": cv2.INTER_LANCZOS4, "bilinear": cv2.INTER_LINEAR}
        for n in names:
            if n not in kernels:
                raise ConfigError(f"eval: sr baseline must be one of {', '.join(kernels)}, got {n!r}")
            k = kernels[n]
            out[n] = lambda x, k=k: _resize(x, (x.shape[2] * scale, x.shape[1] * scale), k)  # type: ignore[misc]
    else:
        out["input"] = lambda x: x
        out["hqdn3d"] = lambda x: ffmpeg_filter(x, HQDN3D)
        out[NLMEANS_REF] = lambda x: ffmpeg_filter(x, NLMEANS)  # per set: see evaluate_group
    return out


@dataclass
class Row:
    task: str
    dataset: str
    method: str
    psnr: float
    ssim: float
    flicker: float
    ms_per_frame: float
    delta: float = 0.0
    detail: float = float("nan")
    per_clip: dict[str, float] = field(default_factory=dict)  # mean Y-PSNR per clip or photo
    per_clip_delta: dict[str, float] = field(default_factory=dict)  # ... minus the reference method's
    bias: tuple[float, float, float] = (0.0, 0.0, 0.0)  # mean output - truth, R G B levels


def evaluate_group(
    task: str,
    scale: int,
    models: dict[str, Runner],
    baselines: list[str],
    items: list[Clip],
    images_dir: Path | None,
    smooth: bool = False,
) -> list[Row]:
    """`smooth` adds the SMOOTH_SET input (sr only)."""
    sets = _sr_sets(items, scale, smooth) if task == "sr" else _restore_sets(items)
    methods: dict[str, Callable[[Image], Image]] = dict(_baselines(task, scale, baselines))
    for name, runner in models.items():
        # A model with the residual gain sees a whole clip run at once, as a stream would.
        whole = bool(getattr(runner, "whole_run", False))
        methods[name] = lambda x, r=runner, w=whole: r(x) if w else _run_batched(r, x)  # type: ignore[misc]
    ref_name = "bicubic" if task == "sr" else NLMEANS_REF
    rows: list[Row] = []
    for set_name, pairs in sets.items():
        if NLMEANS_REF in methods:  # the strength tuned for this kind of input
            strength = next(v for k, v in NLMEANS_STRENGTH.items() if set_name.startswith(k))
            methods[NLMEANS_REF] = lambda x, s=strength: ffmpeg_filter(x, f"nlmeans=s={s}")  # type: ignore[misc]
        scores = {m: Score() for m in methods}
        examples: dict[str, Image] = {}
        for i, ((lr, gt), item) in enumerate(zip(pairs, items, strict=True)):
            for m, fn in methods.items():
                out = _timed(fn, lr, scores[m])
                scores[m].add(out, gt, border=scale if task == "sr" else 0, clip=clip_of(item))
                if i == len(pairs) - 1:
                    examples[m] = out[0]
            if i == len(pairs) - 1 and images_dir is not None:
                _side_by_side(task, set_name, lr[0], gt[0], examples, images_dir, scale)
        ref = float(np.mean(scores[ref_name].psnr)) if ref_name in scores else 0.0
        for m, s in scores.items():
            p = float(np.mean(s.psnr))
            fl = float(np.mean(s.flicker)) if s.flicker else float("nan")
            ms = 1000 * s.seconds / max(1, s.frames)
            label = f"sr x{scale}" if task == "sr" else task
            detail = float(np.mean(s.detail))
            clips = {c: float(np.mean(v)) for c, v in s.per_clip.items()}
            ref_clips = scores[ref_name].per_clip if ref_name in scores else {}
            deltas = {c: v - float(np.mean(ref_clips[c])) for c, v in clips.items() if c in ref_clips}
            bias = tuple(float(b) for b in np.mean(s.bias, axis=0))
            rows.append(
                Row(label, set_name, m, p, float(np.mean(s.ssim)), fl, ms, p - ref, detail, clips, deltas, bias)  # type: ignore[arg-type]
            )
    return rows


def _reference(task_label: str) -> str:
    return "bicubic" if task_label.startswith("sr") else NLMEANS_REF


# The classical methods scored beside the models: no per-clip column and no floor of their own.
BASELINE_METHODS = ("lanczos", "bilinear", "input", "hqdn3d", "bicubic", NLMEANS_REF)
# The classical floors no model may fall under on any clip or photo (sr: bicubic; restore: the
# input itself and hqdn3d), and the margin that counts as under: differences within it are noise.
FLOORS = {"sr": ("bicubic",), "restore": ("input", "hqdn3d")}
FLOOR_MARGIN_DB = 0.05


def per_clip_markdown(rows: list[Row]) -> list[str]:
    """One table per task and input: every clip's Y-PSNR difference to the reference method."""
    lines: list[str] = []
    for key in dict.fromkeys((r.task, r.dataset) for r in rows):
        group = [r for r in rows if (r.task, r.dataset) == key and r.per_clip_delta and abs(r.delta) > 0]
        group = [r for r in group if r.method not in BASELINE_METHODS] or group
        if not group:
            continue
        clips = list(group[0].per_clip_delta)
        lines += [
            "",
            f"Per clip, {key[0]}, {key[1]}: Y-PSNR difference to {_reference(key[0])} (dB)",
            "",
            "| clip / photo | " + " | ".join(r.method for r in group) + " |",
            "| --- |" + " ---: |" * len(group),
        ]
        for c in clips:
            lines.append(
                f"| {c} | " + " | ".join(f"{r.per_clip_delta.get(c, float('nan')):+.2f}" for r in group) + " |"
            )
        lines.append("| **worst** | " + " | ".join(f"{min(r.per_clip_delta.values()):+.2f}" for r in group) + " |")
    return lines


def floor_check(rows: list[Row]) -> list[tuple[Row, str, int, int, float, str]]:
    """(row, floor, items under it by more than FLOOR_MARGIN_DB, items, worst difference, worst
    item) per model row."""
    out: list[tuple[Row, str, int, int, float, str]] = []
    by_key = {(r.task, r.dataset, r.method): r for r in rows}
    for r in rows:
        if r.method in BASELINE_METHODS or not r.per_clip:
            continue
        for floor in FLOORS["sr" if r.task.startswith("sr") else "restore"]:
            base = by_key.get((r.task, r.dataset, floor))
            if base is None:
                continue
            diffs = {c: v - base.per_clip[c] for c, v in r.per_clip.items() if c in base.per_clip}
            if diffs:
                under = sum(d < -FLOOR_MARGIN_DB for d in diffs.values())
                worst = min(diffs, key=lambda c: diffs[c])
                out.append((r, floor, under, len(diffs), diffs[worst], worst))
    return out


def floor_markdown(rows: list[Row]) -> list[str]:
    """The floors table: how many clips and photos each model leaves under the classical floor."""
    checks = floor_check(rows)
    if not checks:
        return []
    lines = [
        "",
        f"Floors: clips and photos where a model is more than {FLOOR_MARGIN_DB} dB under the classical floor "
        "(sr: bicubic; restore: the input and hqdn3d), and its worst difference to it (dB)",
        "",
        "| task | input | method | floor | items under | worst | worst item |",
        "| --- | --- | --- | --- | ---: | ---: | --- |",
    ]
    for r, floor, under, n, worst, item in checks:
        lines.append(f"| {r.task} | {r.dataset} | {r.method} | {floor} | {under} of {n} | {worst:+.2f} | {item} |")
    return lines


def _label(img: Image, text: str) -> Image:
    out = img.copy()
    cv2.rectangle(out, (0, 0), (min(out.shape[1], 8 + 7 * len(text)), 16), (0, 0, 0), -1)
    cv2.putText(out, text, (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def _side_by_side(
    task: str, set_name: str, lr: Image, gt: Image, outs: dict[str, Image], folder: Path, scale: int, size: int = 160
) -> Path:
    """A row of equal crops: input (nearest-upscaled), each method, ground truth."""
    h, w = gt.shape[:2]
    s = min(size, h, w)
    y, x = (h - s) // 2, (w - s) // 2
    up = np.asarray(
        cv2.resize(lr, (lr.shape[1] * scale, lr.shape[0] * scale), interpolation=cv2.INTER_NEAREST), np.uint8
    )
    tiles = [_label(up[y : y + s, x : x + s], "input")]
    tiles += [_label(o[y : y + s, x : x + s], m) for m, o in outs.items() if m != "input"]
    tiles.append(_label(gt[y : y + s, x : x + s], "ground truth"))
    folder.mkdir(parents=True, exist_ok=True)
    slug = set_name.lower().replace(" ", "-")
    for char in "(),.":
        slug = slug.replace(char, "")
    path = folder / f"eval-{task}{scale if task == 'sr' else ''}-{slug}.png"
    cv2.imwrite(
        str(path), cv2.cvtColor(np.concatenate(tiles, axis=1), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9]
    )
    return path


def time_at_360p(runners: dict[str, Callable[[Image], Image]], repeats: int = 3, frames: int = 4) -> dict[str, float]:
    """Milliseconds per 640x360 frame (median of `repeats` runs over `frames` frames), all in this run.

    Several frames per call spread ffmpeg's start-up over them, as a running filter would.
    """
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (frames, 90, 160, 3), dtype=np.uint8)
    clip = np.stack([cv2.resize(f, (640, 360)) for f in small])
    clip = np.clip(clip.astype(np.float64) + rng.normal(0, NOISE_SIGMA, clip.shape), 0, 255).astype(np.uint8)
    out = {}
    for name, fn in runners.items():
        fn(clip[:1])
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            fn(clip)
            times.append(time.perf_counter() - t)
        out[name] = 1000 * float(np.median(times)) / frames
    return out


def machine() -> str:
    from ganstream.training.trainer import machine_description

    return machine_description()


def run_eval(
    model_names: list[str],
    data_dir: Path,
    baselines: list[str],
    models_dir: Path,
    images_dir: Path | None = None,
    markdown: Path | None = None,
    max_frames: int = 0,
    backend: str = "openvino",
    precision: str = "fp32",
    split: str = SELECTION,
    residual_gain: str = "auto",
    record: bool = False,
    temporal_blend: str = "auto",
    smooth: bool = False,
    precision_gate: bool = True,
) -> list[Row]:
    """`residual_gain`: "auto" scores SR models as `ganstream run` runs them (with the measured
    residual strength), "off" the bare network, "both" each twice. `temporal_blend` the same for
    restore models' temporal filter. `smooth` adds the softened-ground-truth input for SR models.
    `precision_gate` (openvino) prints the precision `ganstream run` picks for each model here
    (``training.eval_precision``)."""
    check_eval_mode(residual_gain, "residual_gain")
    check_eval_mode(temporal_blend, "temporal_blend")
    groups: dict[tuple[str, int], dict[str, Runner]] = {}
    backends: dict[str, str] = {}
    folders: dict[str, Path] = {}
    gated: dict[str, Path] = {}  # every model folder that runs, the halves of a choice included
    for name in model_names:
        members = choice_members(name)
        if members:  # two shipped models chosen per stream: nothing of its own to record
            gated |= {m: resolve_model(m, models_dir) for m in members}
            card, runs, used = load_choice(name, members, models_dir, backend, precision, residual_gain)
            groups.setdefault((card.task, card.scale), {}).update(runs)
            backends[name] = used
            continue
        folders[name] = gated[name] = resolve_model(name, models_dir)
        card, runner, used = load_runner(folders[name], backend, precision)
        groups.setdefault((card.task, card.scale), {}).update(
            scored_runners(card, runner, residual_gain, temporal_blend)
        )
        backends[card.name] = used
    rows: list[Row] = []
    timing: dict[str, float] = {}
    for (task, scale), models in sorted(groups.items()):
        items = validation_items(data_dir, crop_multiple(scale), max_frames, split)
        rows += evaluate_group(task, scale, models, baselines, items, images_dir, smooth)
        if task == "restore":
            fns: dict[str, Callable[[Image], Image]] = {
                "hqdn3d": lambda x: ffmpeg_filter(x, HQDN3D),
                NLMEANS_REF: lambda x: ffmpeg_filter(x, NLMEANS),
                **models,
            }
            timing |= time_at_360p(fns)
        else:
            lr_runners = {
                f"{m} (640x360 out)": (lambda x, r=r, s=scale: r(x[:, ::s, ::s].copy())) for m, r in models.items()
            }
            timing |= time_at_360p(lr_runners)  # type: ignore[arg-type]
    text = format_markdown(rows, timing, backends, split)
    if precision_gate and backend == "openvino":
        from ganstream.training.eval_precision import gate_markdown, measure_gates

        text += "\n".join(gate_markdown(measure_gates(gated))) + "\n"
    print(text)
    if markdown is not None:
        markdown.parent.mkdir(parents=True, exist_ok=True)
        markdown.write_text(text)
    if record:
        for folder in folders.values():
            record_in_card(folder, rows, split, residual_gain, temporal_blend)
    return rows


def record_in_card(folder: Path, rows: list[Row], split: str, residual_gain: str, temporal_blend: str = "auto") -> None:
    """Write this run's figures for the model into its card: ``metrics.eval_<split>``, per clip."""
    card = ModelCard.load(folder)
    mine = [r for r in rows if r.method == card.name]
    if not mine:
        return
    floors: dict[str, dict[str, dict[str, Any]]] = {}
    for r, floor, under, n, worst, item in floor_check(rows):
        if r.method == card.name:
            floors.setdefault(r.dataset, {})[floor] = {
                "items_under": under,
                "items": n,
                "worst_db": round(worst, 3),
                "worst_item": item,
            }
    card.metrics[f"eval_{split}"] = {
        "reference": _reference(mine[0].task),
        "residual_gain": residual_gain,
        # the recorded rows are the model as `ganstream run` runs it: with the blend unless "off"
        **({"temporal_blend": temporal_blend != "off"} if card.task == "restore" else {}),
        "machine": machine(),
        "sets": {
            r.dataset: {
                "psnr_y_db": round(r.psnr, 3),
                "vs_reference_db": round(r.delta, 3),
                "worst_clip_vs_reference_db": round(min(r.per_clip_delta.values()), 3) if r.per_clip_delta else None,
                "colour_bias_rgb": [round(b, 3) for b in r.bias],
                "per_clip_vs_reference_db": {c: round(d, 3) for c, d in r.per_clip_delta.items()},
                "floors": floors.get(r.dataset, {}),
            }
            for r in mine
        },
    }
    card.save(folder)


def format_markdown(rows: list[Row], timing: dict[str, float], backends: dict[str, str], split: str = "") -> str:
    lines = [
        *([f"Split: {split} (the data manifest's {split} clips and photos).", ""] if split else []),
        # The load average tells a reader whether the ms figures came from a busy machine.
        f"Machine: {machine()}; load average {os.getloadavg()[0]:.1f} when the table was written. Models run with "
        + ", ".join(f"{k}: {v}" for k, v in sorted(backends.items()))
        + ".",
        "",
        "| task | input | method | Y-PSNR dB | vs ref dB | worst clip vs ref | SSIM | detail | flicker "
        "| colour bias R/G/B | ms/frame |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for r in rows:
        worst = f"{min(r.per_clip_delta.values()):+.2f}" if r.per_clip_delta else ""
        bias = "/".join(f"{b:+.2f}" for b in r.bias)
        lines.append(
            f"| {r.task} | {r.dataset} | {r.method} | {r.psnr:.2f} | {r.delta:+.2f} | {worst} | {r.ssim:.4f} | "
            f"{r.detail:.2f} | {r.flicker:.2f} | {bias} | {r.ms_per_frame:.1f} |"
        )
    lines += [
        "",
        "vs ref: Y-PSNR difference to bicubic (sr) or to nlmeans at the strength tuned on the selection split "
        f"({', '.join(f'{k}: s={v}' for k, v in NLMEANS_STRENGTH.items())}) (restore) on the same frames. "
        "detail: luma Laplacian energy of the output over the ground truth's (1.00: as much fine detail; "
        "blur scores lower, noise higher). "
        "flicker: mean |change of output - change of ground truth| between consecutive frames, luma levels. "
        "colour bias: mean output minus ground truth per channel, levels (clean input: within +-0.15 wanted). "
        "worst clip: the lowest per-clip difference to the reference (tables below). "
        "ms/frame: wall time per evaluated frame (sizes differ per set).",
        "",
        "Per-frame time at 640x360 (median of 3, same run):",
        "",
        "| method | ms |",
        "| --- | ---: |",
    ]
    lines += [f"| {k} | {v:.1f} |" for k, v in timing.items()]
    per_clip = per_clip_markdown(rows)
    slowest = timing.get(NLMEANS_REF)
    if slowest:
        # The restore speed target is a ratio against nlmeans on the same frames, same run.
        lines += ["", f"Speed against {NLMEANS_REF} (same frames, same run): "]
        denoisers = {r.method for r in rows if r.task == "restore"} - {NLMEANS_REF}
        lines[-1] += ", ".join(f"{k} {slowest / v:.1f}x" for k, v in timing.items() if k in denoisers and v > 0)
    compare = head_to_head_markdown(rows, BASELINE_METHODS)
    return "\n".join(lines + floor_markdown(rows) + compare + per_clip) + "\n"
