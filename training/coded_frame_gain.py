"""An SR model's gain over bicubic on H.264 input, by how the frame was coded.

`ganstream eval` codes a clip as a camera does: one intra frame, then frames predicted from the
ones before (P and B), which libx264 quantises harder than the intra frame. The trainer's H.264
validation codes each crop as an intra frame of its own. This tool scores the same frames of
each selection clip three ways, at the eval's CRF and x2 area downscale: the clip's first frame
(intra, `clip-I`), the clip's later frames (predicted, `clip-P`), and every frame coded alone
(`intra`), so a gap between the trainer's figure and the eval's can be read per frame type. Each
type gets three columns: the gain in dB, bicubic's luma error (MSE, levels squared) and the part
of it the model removes; a frame type whose dB gain is lower while the model removes as much error
has more error left that the model does not touch:

    python -m ganstream.training.coded_frame_gain sr2x --frames 12

`--self-ensemble 8` scores the mean of the model's outputs over the eight flips and rotations of
each input instead (the input transformed, the output transformed back): where that gains, part
of the error is the network's variance that averaging removes; where it does not, a better
estimator of the same kind has little to take.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ganstream.engines.residual_gain import bicubic
from ganstream.training.codec import EVAL_H264_CRF, crf_range_error, even_area_downscale, h264_roundtrip
from ganstream.training.metrics import psnr_y

Image = npt.NDArray[np.uint8]
Upscaler = Callable[[Image], Image]  # (h, w, 3) -> (2h, 2w, 3)
KINDS = ("clip-I", "clip-P", "intra")
SCALE = 2


def frame_type_scores(
    upscale: Upscaler, frames: Sequence[Image], crf: float = EVAL_H264_CRF
) -> dict[str, list[tuple[float, float]]]:
    """Per frame type, (bicubic's Y-PSNR, `upscale`'s Y-PSNR) in dB for each of `frames` (one clip,
    ground truth) area-downscaled x2 and coded at `crf`: as one clip and each frame alone."""
    low = np.stack([even_area_downscale(f, SCALE) for f in frames])
    h, w = low.shape[1:3]
    as_clip = h264_roundtrip(low, crf=crf)
    scores: dict[str, list[tuple[float, float]]] = {k: [] for k in KINDS}
    for i, frame in enumerate(frames):
        gt = frame[: h * SCALE, : w * SCALE]
        alone = h264_roundtrip(low[i : i + 1], crf=crf)[0]
        for kind, src in (("clip-I" if i == 0 else "clip-P", as_clip[i]), ("intra", alone)):
            scores[kind].append((psnr_y(bicubic(src, SCALE), gt, border=SCALE), psnr_y(upscale(src), gt, border=SCALE)))
    return scores


def self_ensemble(upscale: Upscaler, count: int) -> Upscaler:
    """`upscale` averaged over the first `count` of the eight flips and rotations (1: itself)."""
    if count == 1:
        return upscale

    def run(x: Image) -> Image:
        total: npt.NDArray[np.float64] | None = None
        for k in range(count):
            turns, flip = k % 4, k >= 4
            src = np.rot90(x[:, ::-1] if flip else x, turns)
            out = np.rot90(upscale(np.ascontiguousarray(src)), -turns)
            out = out[:, ::-1] if flip else out
            total = out.astype(np.float64) if total is None else total + out
        assert total is not None
        return np.clip(total / count + 0.5, 0, 255).astype(np.uint8)

    return run


def mse_of(psnr_db: float) -> float:
    """The mean squared error (levels squared) behind a PSNR on 8-bit values."""
    return float(255.0**2 / 10.0 ** (psnr_db / 10.0))


def summary(scores: Sequence[tuple[float, float]]) -> tuple[float, float, float]:
    """(mean dB gain over bicubic, bicubic's mean MSE, mean MSE removed from it) of one frame type."""
    gains = [ours - base for base, ours in scores]
    removed = [mse_of(base) - mse_of(ours) for base, ours in scores]
    return float(np.mean(gains)), float(np.mean([mse_of(base) for base, _ in scores])), float(np.mean(removed))


def main(argv: list[str] | None = None) -> int:
    prog = "python -m ganstream.training.coded_frame_gain"
    ap = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n")[0])
    ap.add_argument("model", help="an installed x2 SR model or a model folder")
    ap.add_argument("--data", default="data", help="data folder from `ganstream data fetch`")
    ap.add_argument("--frames", type=int, default=12, help="frames from the start of each clip run")
    ap.add_argument("--crf", type=float, default=EVAL_H264_CRF, help="libx264 CRF (default: the eval's)")
    ap.add_argument("--backend", default="openvino")
    ap.add_argument(
        "--self-ensemble",
        type=int,
        default=1,
        choices=(1, 2, 4, 8),
        help="average the model over this many flips and rotations of each input (default 1: none)",
    )
    args = ap.parse_args(argv)
    if args.frames < 2:
        ap.error("--frames must be at least 2 (an intra frame and a predicted one)")
    if problem := crf_range_error(args.crf, args.crf):
        ap.error(f"--crf: {problem}")
    from ganstream.engines import load_engine
    from ganstream.training.dataset import load_pool

    engine = load_engine(args.model, backend=args.backend, precision="fp32")
    if int(engine.card.scale) != SCALE:
        ap.error(f"{args.model} is an x{engine.card.scale} model; this tool scores x{SCALE}")
    pool, _ = load_pool(Path(args.data), "selection")
    ensemble = f", mean over {args.self_ensemble} flips and rotations" if args.self_ensemble > 1 else ""
    print(f"{args.model}{ensemble} against bicubic, x2 area then libx264 CRF {args.crf:g}, selection clips:")
    print("per frame type: dB gain, bicubic's luma MSE and the MSE the model removes (levels squared)")
    print(f"{'clip run':<24}" + "".join(f"{k + ' dB':>10}{'MSE':>8}{'removed':>8}" for k in KINDS))
    totals: dict[str, list[tuple[float, float]]] = {k: [] for k in KINDS}

    def row(label: str, scores: dict[str, list[tuple[float, float]]]) -> str:
        cells = (summary(scores[k]) for k in KINDS)
        return f"{label:<24}" + "".join(f"{db:>+10.3f}{mse:>8.2f}{removed:>+8.2f}" for db, mse, removed in cells)

    for name, run in zip(pool.names[len(pool.photos) :], pool.runs, strict=True):
        model = self_ensemble(lambda x: np.asarray(engine.infer(x[None])[0]), args.self_ensemble)
        scores = frame_type_scores(model, run[: args.frames], args.crf)
        for k in KINDS:
            totals[k] += scores[k]
        print(row(name, scores))
    print(row("mean over frames", totals))
    engine.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
