"""``ganstream train recurrent``: the recurrent video models (vsr2x, vrestore) from a single-frame model.

The ``train`` group is shared (``ganstream.training.cli`` creates it); ``ganstream export RUN``
hands recurrent runs (see `is_recurrent_run`) to ``ganstream.training.temporal.export``.
torch is imported inside the command function.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ganstream.training.cli_groups import task_group


def register(sub: Any) -> None:
    p = task_group(sub, "train", "train a model").add_parser(
        "recurrent",
        help="train a recurrent video model (vsr2x, vrestore) from a single-frame sr or restore model",
        description="Start from a single-frame model (its copy with the previous-output inputs at zero, so step 0 "
        "is that model) and train it on consecutive frames of real clips and moving photographs, unrolled as the "
        "runtime runs it. Validation on whole selection-split clips; bounded by --minutes; resumable.",
    )
    p.add_argument("--init", type=Path, required=True, help="single-frame model folder, e.g. engines/models/restore")
    p.add_argument("--data", type=Path, default=Path("data"), help="data folder of `ganstream data fetch`")
    p.add_argument("--out", type=Path, required=True, help="run folder, e.g. runs/vrestore")
    p.add_argument("--minutes", type=float, default=60.0, help="wall-clock budget of the training loop (default 60)")
    p.add_argument("--steps", type=int, default=1_000_000, help="stop after this many steps")
    p.add_argument("--batch", type=int, default=8, help="sequences per step (default 8)")
    p.add_argument("--crop", type=int, default=96, help="ground-truth crop side (default 96)")
    p.add_argument("--length", type=int, default=6, help="frames unrolled per sequence (default 6)")
    p.add_argument("--lr", type=float, default=2e-4, help="learning rate (default 2e-4, cosine decay)")
    p.add_argument(
        "--first-lr-mult", type=float, default=10.0, help="learning-rate factor of the first layer (default 10)"
    )
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    p.add_argument("--val-every", type=float, default=300.0, help="seconds between validations (default 300)")
    p.add_argument(
        "--degrade",
        choices=("default", "clean", "compressed"),
        default="default",
        help="training input mix: the task's default, clean (downscale only: to continue sr2x-clean) or "
        "compressed (sr: half the batches through H.264; validated on H.264 CRF 30 clips)",
    )
    p.add_argument(
        "--clip-prob",
        type=float,
        default=0.6,
        help="share of sequences cut from real clips; the rest are photographs moving by whole pixels (default 0.6)",
    )
    p.add_argument(
        "--subpixel-share",
        type=float,
        default=0.0,
        help="share of the photographs' sequences moving by half pixels instead (a window moving over the photo "
        "at twice the size, each frame area-downscaled x2): sub-pixel shifts on the SR input grid (default 0)",
    )
    p.add_argument(
        "--neighbours",
        type=int,
        default=0,
        help="previous input frames fed beside the previous output, warped to the current frame (a causal "
        "window; default 0: the output alone); a model with fewer is widened with the new inputs at zero",
    )
    p.add_argument(
        "--device", default="cpu", help="where the network trains: cpu (default) or cuda (flows stay on the CPU)"
    )
    p.add_argument(
        "--filtered-input", action="store_true",
        help="restore models: train on input through the stage's temporal filter, as `ganstream run` feeds it",
    )  # fmt: skip
    p.add_argument(
        "--filtered-share", type=float, default=1.0,
        help="with --filtered-input: the share of sequences through the filter (default 1); the rest train on "
        "raw frames, as the network gets them where the filter has no history (first frames, single images)",
    )  # fmt: skip
    p.add_argument(
        "--single-frame", action="store_true",
        help="train the --init single-frame model itself, without memory, on the same sequences (with "
        "--filtered-input: the restore stage's model on the frames it gets); exports as a single-frame model",
    )  # fmt: skip
    p.add_argument(
        "--ema", type=float, default=0.995,
        help="decay of the weights' moving average that validation scores and the best checkpoint keeps "
        "(default 0.995, as `train sr`; 0: the raw weights)",
    )  # fmt: skip
    p.add_argument(
        "--aligned", action="store_true",
        help="align the fed-back output finely: DIS down to the frame's own pyramid level and bicubic warps "
        "(the card carries it, so the runtime aligns it the same way; a run from such a model keeps it)",
    )  # fmt: skip
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.set_defaults(func=_train)


def _train(args: argparse.Namespace) -> int:
    from ganstream.training.temporal.train import TemporalConfig, train

    cfg = TemporalConfig(
        init=str(args.init), data=str(args.data), out=str(args.out), minutes=args.minutes, steps=args.steps,
        batch=args.batch, crop=args.crop, length=args.length, lr=args.lr, first_lr_mult=args.first_lr_mult,
        threads=args.threads,
        val_every_s=args.val_every, degrade=args.degrade, clip_prob=args.clip_prob,
        subpixel_share=args.subpixel_share, neighbours=args.neighbours,
        device=args.device, filtered_input=args.filtered_input, single_frame=args.single_frame,
        filtered_share=args.filtered_share, ema_decay=args.ema, aligned=args.aligned,
    )  # fmt: skip
    if args.resume:  # the run's recipe; the bounds and the device may change
        saved = json.loads((args.out / "config.json").read_text())
        cfg = TemporalConfig.from_dict({**saved, "minutes": args.minutes, "steps": args.steps, "device": args.device})
    st = train(cfg, resume=args.resume)
    print(
        f"ganstream: trained {st.step} steps in {st.seconds:.0f} s; best validation {st.best_psnr:.2f} dB at step "
        f"{st.best_step} (the --init model {st.single_frame_psnr:.2f} dB); run in {args.out}"
    )
    return 0


def is_recurrent_run(run: Path) -> bool:
    """True for a run folder written by `ganstream train recurrent`."""
    try:
        cfg = json.loads((run / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(cfg, dict) and "length" in cfg and "init" in cfg and "val_side" in cfg


__all__ = ["is_recurrent_run", "register"]
