"""``ganstream eval interp``: leave every other frame out, rebuild it, compare with the real one.

On each clip (within shots only), frame i (odd) is rebuilt from frames i - 1 and i + 1 at
t = 0.5 by every method in one run: our synthesizers (``flow``, installed interp models, model
folders) and the baselines (``blend``, ffmpeg ``minterpolate`` mi_mode=mci). Figures: mean luma
PSNR and SSIM over all rebuilt frames, and milliseconds per rebuilt frame on this machine, flow
included (best of TIMING_PASSES passes per clip, for every method); ratios are against the
baselines measured in the same run. The ``oracle-t`` baseline runs ``flow`` at each left-out
frame's measured time (see ``oracle``): what timing alone costs, not a method.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ganstream.stream.stages.interpolate import BlendSynth, Synthesizer
from ganstream.training.errors import ConfigError
from ganstream.training.eval_compare import ScoredItems, head_to_head_markdown
from ganstream.training.interp.clips import Clip, find_clips, load_clip, same_shot_windows
from ganstream.training.interp.metrics import psnr_y, ssim_y
from ganstream.training.interp.minterpolate import minterpolate_double
from ganstream.training.sources import clip_start

log = logging.getLogger(__name__)

BASELINES = ("blend", "minterpolate", "oracle-t")
# The synthesizers `make_synth` builds without a model (besides `flow:` variants).
CLASSICAL_SYNTHS = (
    "blend",
    "flow",
    "flow-refined",
    "flow-bilinear",
    "flow-large",
    "flow-large-nosearch",
    "flow-search",
    "flow-plain",
)
# Every method's time is the best of this many whole passes over a clip: on a shared machine
# the best pass is the one least disturbed by other work, for ffmpeg and for us alike.
TIMING_PASSES = 3


@dataclass
class MethodScore:
    name: str
    psnr: list[float] = field(default_factory=list)
    ssim: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        return {
            "psnr_y_db": float(np.mean(self.psnr)) if self.psnr else float("nan"),
            "ssim_y": float(np.mean(self.ssim)) if self.ssim else float("nan"),
            "ms_per_frame": 1000.0 * float(np.mean(self.seconds)) if self.seconds else float("nan"),
            "frames": len(self.psnr),
        }


def make_synth(name: str, backend: str = "auto") -> Synthesizer:
    """A synthesizer by name: blend, flow, flow-plain, an installed interp model, or a model folder."""
    from ganstream.engines.flow import Fallback, FlowOptions
    from ganstream.stream.stages.interp_synth import CLASSICAL_FLOW_SYNTHS, FlowSynth, NetSynth, classical_flow_synth

    if name == "blend":
        return BlendSynth()
    if name in CLASSICAL_FLOW_SYNTHS:  # the shipped ones, as `ganstream run` builds them
        return classical_flow_synth(name)
    if name == "flow-bilinear":  # `flow` of the previous release: bilinear warps
        return FlowSynth(cubic_warp=False)
    if name == "flow-large-nosearch":  # flow-large of the previous release: the projection alone
        return FlowSynth(large_motion=True, block_search=False)
    if name == "flow-search":  # flow with the block search (not the default: no gain on the selection split)
        return FlowSynth(block_search=True)
    if name == "flow-plain":  # the classical path before the cross-fade fallback: the warps' plain average
        return FlowSynth(FlowOptions(), fixed_point_warp=False, cubic_warp=False, fallback=Fallback(share=0.0))
    if name.startswith("flow:"):
        return flow_variant(name)
    from ganstream.engines import load_engine

    return NetSynth(load_engine(name, backend=backend))


# `flow_variant`'s optional settings after DOWNSCALE[:FINEST]: prefix -> FlowOptions field
VARIANT_SETTINGS = {"vr": "refine_iters", "ps": "patch_stride", "gd": "descent_iters"}


def flow_variant(spec: str) -> Synthesizer:
    """`flow:PRESET:DOWNSCALE[:FINEST][:vrN][:psN][:gdN][:plain]`, e.g. flow:medium:1:plain (DIS
    medium on full frames, the warps' plain average), flow:ultrafast:1:2 (finest pyramid level 2,
    the preset's own) or flow:ultrafast:1:1:vr1:ps5 (one variational refinement iteration per
    level, patches 5 px apart; gdN: gradient descent iterations per patch): the classical variants
    compared when choosing the default."""
    from ganstream.engines.flow import Fallback, FlowOptions
    from ganstream.stream.stages.interp_synth import FlowSynth

    usage = "expected flow:PRESET:DOWNSCALE[:FINEST][:vrN][:psN][:gdN][:plain], e.g. flow:medium:1:plain"
    parts = spec.split(":")
    plain = parts[-1] == "plain"
    if plain:
        parts = parts[:-1]
    settings: dict[str, int] = {}
    while parts and parts[-1][:2] in VARIANT_SETTINGS:
        key, value = parts[-1][:2], parts.pop()[2:]
        if not value.isdigit() or VARIANT_SETTINGS[key] in settings:
            raise ConfigError(f"interp variant {spec!r}: {usage}")
        settings[VARIANT_SETTINGS[key]] = int(value)
    if len(parts) not in (3, 4) or not all(p.isdigit() for p in parts[2:]):
        raise ConfigError(f"interp variant {spec!r}: {usage}")
    try:
        options = FlowOptions(
            preset=parts[1],
            downscale=int(parts[2]),
            finest_scale=int(parts[3]) if len(parts) == 4 else None,
            **settings,
        )
    except ValueError as exc:
        raise ConfigError(f"interp variant {spec!r}: {exc}") from None
    if plain:
        return FlowSynth(options, fixed_point_warp=False, cubic_warp=False, fallback=Fallback(share=0.0))
    return FlowSynth(options)


def left_out_indices(clip: Clip, stride: int = 1) -> list[int]:
    """Frames i = stride, 3 stride, 5 stride, ... whose sources i - stride and i + stride are in
    the same shot as they are. Stride 1: the odd frames between the even ones; a larger stride
    is the same clip with `stride` times the motion between the two source frames."""
    return [i + stride for i in same_shot_windows(clip.frames, 2 * stride) if (i + stride) % (2 * stride) == stride]


def evaluate_clip(
    clip: Clip,
    synths: dict[str, Synthesizer],
    baselines: Sequence[str],
    scores: dict[str, MethodScore],
    stride: int = 1,
) -> int:
    idx = left_out_indices(clip, stride)
    if not idx:
        return 0
    s = stride
    for name, synth in synths.items():
        synth.synthesize(clip.frames[idx[0] - s], clip.frames[idx[0] + s], [0.5])  # warm-up
        for i in idx:
            (out,) = synth.synthesize(clip.frames[i - s], clip.frames[i + s], [0.5])
            scores[name].psnr.append(psnr_y(out, clip.frames[i]))
            scores[name].ssim.append(ssim_y(out, clip.frames[i]))
        passes = []
        for _ in range(TIMING_PASSES):
            t0 = time.perf_counter()
            for i in idx:
                synth.synthesize(clip.frames[i - s], clip.frames[i + s], [0.5])
            passes.append((time.perf_counter() - t0) / len(idx))
        scores[name].seconds += [min(passes)] * len(idx)
    if "oracle-t" in baselines:
        from ganstream.stream.stages.interp_synth import FlowSynth
        from ganstream.training.interp.oracle import MeasuredTime

        synth, timing = FlowSynth(), MeasuredTime()
        for i in idx:
            f0, f1 = clip.frames[i - s], clip.frames[i + s]
            (out,) = synth.synthesize(f0, f1, [timing.t(f0, clip.frames[i], f1)])
            scores["oracle-t"].psnr.append(psnr_y(out, clip.frames[i]))
            scores["oracle-t"].ssim.append(ssim_y(out, clip.frames[i]))
    if "minterpolate" in baselines:
        # Kept frames 0, 2s, 4s, ... at the clip's rate over 2s; minterpolate doubles them, so
        # its k-th made frame stands at k 2s + s.
        kept = clip.frames[0 : len(clip.frames) : 2 * s]
        made, per_frame = minterpolate_double(kept, clip.fps / s, passes=TIMING_PASSES)
        for i in idx:
            out = made[(i - s) // (2 * s)]
            scores["minterpolate"].psnr.append(psnr_y(out, clip.frames[i]))
            scores["minterpolate"].ssim.append(ssim_y(out, clip.frames[i]))
            scores["minterpolate"].seconds.append(per_frame)
    return len(idx)


def run_eval(
    clips: Sequence[Path],
    models: Sequence[str],
    baselines: Sequence[str] = BASELINES,
    max_frames: int = 61,
    max_width: int = 640,
    backend: str = "auto",
    stride: int = 1,
) -> dict[str, Any]:
    if stride < 1:
        raise ConfigError(f"--stride must be 1 or more, got {stride}")
    unknown = [b for b in baselines if b not in BASELINES]
    if unknown:
        raise ConfigError(f"--baseline: unknown {', '.join(unknown)}, expected some of {', '.join(BASELINES)}")
    synths: dict[str, Synthesizer] = {m: make_synth(m, backend) for m in models}
    if "blend" in baselines and "blend" not in synths:
        synths["blend"] = BlendSynth()
    scores = {name: MethodScore(name) for name in [*synths, *(b for b in baselines if b not in synths)]}
    per_clip: list[dict[str, Any]] = []
    for path in find_clips(list(clips)):
        clip = load_clip(path, max_frames=(max_frames - 1) * stride + 1, max_width=max_width, start=clip_start(path))
        before = {k: len(v.psnr) for k, v in scores.items()}
        n = evaluate_clip(clip, synths, baselines, scores, stride)
        w, h = clip.size
        row: dict[str, Any] = {"clip": clip.name, "size": f"{w}x{h}", "frames": n}
        for k, v in scores.items():
            row[k] = round(float(np.mean(v.psnr[before[k] :])), 2) if n else None
        per_clip.append(row)
        log.info("%s: %s", clip.name, row)
    for s in synths.values():
        s.close()
    summary = {k: v.summary() for k, v in scores.items()}
    return {"methods": summary, "clips": per_clip, "ratios": _ratios(summary), "stride": stride}


def _ratios(summary: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for name, s in summary.items():
        if name in BASELINES:
            continue
        r: dict[str, float] = {}
        if "minterpolate" in summary:
            m = summary["minterpolate"]
            r["db_over_minterpolate"] = round(s["psnr_y_db"] - m["psnr_y_db"], 2)
            r["speedup_vs_minterpolate"] = round(m["ms_per_frame"] / s["ms_per_frame"], 2)
        if "blend" in summary:
            r["db_over_blend"] = round(s["psnr_y_db"] - summary["blend"]["psnr_y_db"], 2)
        out[name] = r
    return out


def format_report(result: dict[str, Any]) -> str:
    stride = int(result.get("stride", 1))
    lines = [f"stride {stride}: frame i rebuilt from frames i - {stride} and i + {stride}"] if stride > 1 else []
    lines += [f"{'method':<16}{'PSNR-Y dB':>10}{'SSIM-Y':>9}{'ms/frame':>10}{'frames':>8}"]
    for name, s in result["methods"].items():
        lines.append(f"{name:<16}{s['psnr_y_db']:>10.2f}{s['ssim_y']:>9.4f}{s['ms_per_frame']:>10.1f}{s['frames']:>8d}")
    for name, r in result["ratios"].items():
        parts = []
        if "db_over_minterpolate" in r:
            parts.append(
                f"{r['db_over_minterpolate']:+.2f} dB and {r['speedup_vs_minterpolate']:.1f}x the speed of minterpolate"
            )
        if "db_over_blend" in r:
            parts.append(f"{r['db_over_blend']:+.2f} dB over blend")
        lines.append(f"{name}: " + ", ".join(parts))
    lines.append("per clip, PSNR-Y dB:")
    for c in result["clips"]:
        scores = " ".join(f"{k}={c[k]}" for k in result["methods"])
        lines.append(f"  {c['clip']} {c['size']} ({c['frames']} frames): {scores}")
    # The choice rule, as for sr and restore: each later model against the first, clip by clip.
    items = [
        ScoredItems("interp", f"stride {stride}", m, {c["clip"]: c[m] for c in result["clips"] if c.get(m) is not None})
        for m in result["methods"]
    ]
    lines += head_to_head_markdown(items, BASELINES)
    return "\n".join(lines)


def write_json(result: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(result, indent=2) + "\n")


__all__ = ["BASELINES", "MethodScore", "format_report", "run_eval", "write_json"]
