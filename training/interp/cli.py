"""Commands: ``ganstream train interp``, ``ganstream eval interp``, ``ganstream export RUN``.

``train`` and ``eval`` are groups shared with the other tasks: this module adds its ``interp``
sub-command to the group if another module created it already, else creates the group. It adds
``export`` only when no other module did; a shared ``export`` hands interp runs (see
`is_interp_run`) to `ganstream.training.interp.export.export_run`. Heavy imports (torch) happen
inside the command functions.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from ganstream.training.cli_groups import task_group

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    train = task_group(sub, "train", "train a model").add_parser(
        "interp",
        help="train the frame-interpolation synthesis network on real clips",
        description="Train the synthesis network of the 'interp' model (fusion mask + residual on top of the "
        "classical DIS flow) on triplets cut from real clips, within shots. Bounded by --minutes; resumable.",
    )
    train.add_argument(
        "--data",
        type=Path,
        nargs="+",
        required=True,
        help="clips or folders of clips/frames; a `data fetch` folder gives its train split's whole clips",
    )
    train.add_argument(
        "--val", type=Path, nargs="*", default=[],
        help="held-out clips for validation; a `data fetch` folder gives its selection split's whole clips",
    )  # fmt: skip
    train.add_argument("--preset", default="small", choices=("tiny", "small"), help="tiny: seconds; small: ~15 min")
    train.add_argument("--out", type=Path, default=Path("runs/interp"), help="run folder (default runs/interp)")
    train.add_argument("--minutes", type=float, help="wall-clock budget of the training loop")
    train.add_argument("--steps", type=int, help="stop after this many steps")
    train.add_argument("--adv-weight", type=float, help="weight of the adversarial term (0 disables it)")
    train.add_argument("--lr", type=float, help="peak learning rate (cosine decay; default 5e-4)")
    train.add_argument("--num-feat", type=int, help="channels of the body (default 24)")
    train.add_argument("--num-conv", type=int, help="3x3 convolutions at a quarter of the resolution (default 2)")
    train.add_argument("--coarse", type=int, help="coarse levels at 1/8, 1/16 ... for a wider view (default 0)")
    train.add_argument(
        "--measured-t", action="store_true", default=None,
        help="train each window at its target's measured capture time (real capture is unevenly timed)",
    )  # fmt: skip
    train.add_argument("--batch", type=int, help="crops per step (default 8)")
    train.add_argument("--crops-per-sample", type=int, help="crops cut from each training window (default 3)")
    train.add_argument(
        "--stride3", type=int,
        help="every N-th 4-frame window also trains t = 1/3 and 2/3 (default 4; 0: t = 1/2 only)",
    )  # fmt: skip
    train.add_argument(
        "--warp", choices=("cubic", "bilinear"), default="cubic",
        help="how the runtime warps the frames the network sees (default cubic, as `flow`; the card records it)",
    )  # fmt: skip
    train.add_argument(
        "--device", default="cpu", help="where the network trains: cpu (default) or cuda (flows stay on the CPU)"
    )
    train.add_argument(
        "--base", choices=("flow", "average"),
        help="what the untrained network returns: flow (the `flow` result; default) or average (the warps' average)",
    )  # fmt: skip
    train.add_argument(
        "--init", type=Path, metavar="RUN",
        help="start from the body of RUN's best network (same size); the heads start at zero, so step 0 is --base",
    )  # fmt: skip
    train.add_argument("--threads", type=int, help="torch threads (default 1)")
    train.add_argument("--val-every", type=float, help="seconds between validations (default 60)")
    train.add_argument("--resume", action="store_true", help="continue the run in --out")
    train.add_argument("--export", metavar="NAME", help="export the best network as model NAME into --models-dir")
    train.add_argument("--models-dir", type=Path, default=None, help="where --export writes (default: user models)")
    train.set_defaults(func=_train)

    if "eval" in sub.choices:
        # The shared `ganstream eval MODELS` (training.cli) hands interp names to `eval_interp`.
        _register_export(sub)
        return
    ev = task_group(sub, "eval", "evaluate a model against baselines").add_parser(
        "interp",
        help="leave-one-out interpolation quality and speed vs blend and ffmpeg minterpolate",
        description="Leave out every other frame of each clip, rebuild it from its neighbours, compare with the "
        "real one (luma PSNR, SSIM) and time it, for every method in one run.",
    )
    ev.add_argument("--clips", type=Path, nargs="+", required=True, help="clips or folders of clips")
    ev.add_argument(
        "--model",
        default=None,
        help="comma list: flow, flow-large, flow-plain, interp, a model folder... (default: flow + interp)",
    )
    ev.add_argument(
        "--baseline", default="blend,minterpolate", help="comma list of blend, minterpolate, oracle-t (measured time)"
    )
    ev.add_argument(
        "--max-frames",
        type=int,
        default=61,
        help="frames read per clip (default 61; with --stride S, (N - 1) S + 1, the same number rebuilt)",
    )
    ev.add_argument(
        "--stride",
        type=int,
        default=1,
        help="rebuild frame i from frames i - S and i + S (default 1): S times the motion of the same real clips",
    )
    ev.add_argument("--max-width", type=int, default=640, help="clips wider than this are downscaled (default 640)")
    ev.add_argument("--backend", default="auto", help="engine backend for models (default auto)")
    ev.add_argument("--json", type=Path, help="also write the figures as JSON")
    ev.set_defaults(func=_eval)
    _register_export(sub)


def _register_export(sub: Any) -> None:
    if "export" in sub.choices:
        return
    ex = sub.add_parser("export", help="export a training run as an installable model (ONNX + card)")
    ex.add_argument("run", type=Path, help="the run folder (of `ganstream train interp`)")
    ex.add_argument("--name", default="interp", help="model name (default interp)")
    ex.add_argument("--models-dir", type=Path, default=None, help="where to write (default: user models folder)")
    ex.set_defaults(func=_export)


def _models_dir(arg: Path | None) -> Path:
    if arg is not None:
        return arg
    from ganstream.engines.store import user_models_dir

    return user_models_dir()


def _train(args: argparse.Namespace) -> int:
    from ganstream.training.errors import CheckpointError
    from ganstream.training.interp.train import TrainConfig, train

    cfg = TrainConfig.from_preset(
        args.preset,
        data=[str(p) for p in _split_clips(args.data, "train")],
        val=[str(p) for p in _split_clips(args.val, "selection")],
        out=str(args.out),
        minutes=args.minutes,
        steps=args.steps,
        adv_weight=args.adv_weight,
        lr=args.lr,
        num_feat=args.num_feat,
        num_conv=args.num_conv,
        coarse=args.coarse,
        measured_t=args.measured_t,
        batch=args.batch,
        crops_per_sample=args.crops_per_sample,
        stride3=args.stride3,
        cubic_warp=args.warp == "cubic",
        device=args.device,
        threads=args.threads,
        val_every_s=args.val_every,
        base=args.base,
        init=str(args.init) if args.init else None,
    )
    if args.resume:  # a resumed run keeps its own recipe; the bounds, the device and --val-every may change
        from dataclasses import replace

        try:
            saved = TrainConfig.from_dict(json.loads((args.out / "config.json").read_text()))
        except (OSError, ValueError, TypeError) as exc:
            raise CheckpointError(f"{args.out}: cannot resume ({exc})") from None
        every = saved.val_every_s if args.val_every is None else cfg.val_every_s
        cfg = replace(saved, minutes=cfg.minutes, steps=cfg.steps, device=cfg.device, val_every_s=every)
    state = train(cfg, resume=args.resume)
    print(
        f"ganstream: trained {state.step} steps in {state.seconds:.0f} s; best validation {state.best_psnr:.2f} dB "
        f"at step {state.best_step} (classical base {state.baseline_psnr:.2f} dB); run in {args.out}"
    )
    if args.export:
        return _export(argparse.Namespace(run=args.out, name=args.export, models_dir=args.models_dir))
    return 0


def _split_clips(paths: list[Path], split: str) -> list[Path]:
    """`paths` with each `data fetch` folder (one with a manifest) replaced by its `split`'s clips."""
    from ganstream.training.interp.clips import split_clip_files

    out: list[Path] = []
    for p in paths:
        out += split_clip_files(p, split) if (p / "manifest.json").is_file() else [p]
    return out


def _export(args: argparse.Namespace) -> int:
    from ganstream.training.errors import CheckpointError
    from ganstream.training.interp.export import export_run

    if not is_interp_run(args.run):
        raise CheckpointError(f"{args.run}: not a run folder of `ganstream train interp` (no interp config.json)")
    out = _models_dir(args.models_dir) / args.name
    res = export_run(args.run, out, name=args.name)
    print(f"ganstream: exported '{args.name}' to {res.folder} (onnxruntime vs torch max |diff| {res.max_abs_diff})")
    return 0


def eval_interp(
    clips: list[Path],
    models: list[str],
    baselines: str,
    max_frames: int = 61,
    max_width: int = 640,
    backend: str = "auto",
    json_path: Path | None = None,
    stride: int = 1,
) -> int:
    """Leave-one-out evaluation, as `ganstream eval interp` runs it (models [] = the defaults)."""
    ns = argparse.Namespace(
        clips=clips,
        model=",".join(models) if models else None,
        baseline=baselines,
        max_frames=max_frames,
        max_width=max_width,
        backend=backend,
        json=json_path,
        stride=stride,
    )
    return _eval(ns)


def _eval(args: argparse.Namespace) -> int:
    from ganstream.training.interp.evaluate import format_report, run_eval, write_json

    if args.model is None:
        from ganstream.stream.stage_factory import installed_models

        models = ["flow"] + (["interp"] if "interp" in installed_models() else [])
    else:
        models = [m for m in args.model.split(",") if m]
    baselines = [b for b in args.baseline.split(",") if b]
    result = run_eval(args.clips, models, baselines, args.max_frames, args.max_width, args.backend, args.stride)
    print(format_report(result))
    if args.json:
        write_json(result, args.json)
    return 0


def is_interp_run(run: Path) -> bool:
    """True for a run folder written by `ganstream train interp`."""
    try:
        cfg = json.loads((run / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(cfg, dict) and "adv_start" in cfg and "num_feat" in cfg and "stride3" in cfg


__all__ = ["is_interp_run", "register"]
