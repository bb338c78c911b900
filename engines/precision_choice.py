"""Which CPU precision a model runs at on this machine: measured once, then cached.

A fixed table (bf16 wherever the CPU has it) was wrong twice: bf16 cost sr2x 0.3 dB on clean,
smooth footage, and int8 is faster than bf16 on some CPUs and slower on others. So on first use
every candidate precision runs a few real frames (the sample clip, downscaled or noised as the
model's task needs) and one smooth synthetic frame: its time per frame and its PSNR against the
ground truth. The fastest precision whose PSNR is within ``QUALITY_GATE_DB`` of fp32's on every
frame wins. The smooth frame is there because the sample clip hid what reduced precision costs
where one output level shows: int8 measured 0.04 dB under fp32 on the clip and 3.9 dB under it
on a clean, smooth selection clip (sr2x, coin_pen). The result is cached per
backend, CPU model (with its AMX / AVX512 features), model artifacts' sha256 and runtime version,
in ``$XDG_CACHE_HOME/ganstream/precision.json``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ganstream.engines.calib import default_clip, model_inputs, psnr, read_frames
from ganstream.engines.card import ModelCard

log = logging.getLogger(__name__)

# Changes when what a precision computes or how it is judged changes (2: the f32 edges became a
# cut graph; the smooth frame and the worst frame's drop), so an older choice is measured again.
ENGINE_REVISION = 2
QUALITY_GATE_DB = 0.05  # the largest PSNR loss against fp32 a reduced precision may cost
MEASURE_SIZE = (180, 320)  # model input (h, w): the size the speed targets are set at
MEASURE_FRAMES = 4
MEASURE_REPEATS = 5
_CPU_FEATURES = ("amx_bf16", "amx_int8", "avx512_bf16", "avx512_vnni", "avx_vnni", "avx512f", "avx2")


@dataclass
class PrecisionChoice:
    precision: str
    reason: str
    measured: dict[str, dict[str, float]] = field(default_factory=dict)  # precision -> ms, drop_db
    cached: bool = False


def cpu_model() -> str:
    """The CPU's model name and the features that decide reduced-precision speed."""
    name, flags = platform.processor() or platform.machine(), set()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and name == (platform.processor() or platform.machine()):
                name = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
                break
    have = [f for f in _CPU_FEATURES if f in flags]
    return f"{name} [{' '.join(have)}]" if have else name


def cache_file() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ganstream" / "precision.json"


def cache_key(card: ModelCard, backend: str, candidates: list[str]) -> str:
    import openvino

    models = hashlib.sha256(json.dumps(card.artifacts, sort_keys=True).encode()).hexdigest()[:16]
    runtime = f"openvino {openvino.__version__} r{ENGINE_REVISION}"
    return f"{backend}|{cpu_model()}|{card.name}@{models}|{runtime}|{','.join(candidates)}"


def _load_cache() -> dict[str, Any]:
    try:
        data = json.loads(cache_file().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _save_cache(key: str, choice: PrecisionChoice) -> None:
    path = cache_file()
    data = _load_cache()
    data[key] = {k: v for k, v in asdict(choice).items() if k != "cached"}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
        tmp.replace(path)
    except OSError as exc:  # a read-only home still runs, it only measures again next time
        log.warning("could not cache the precision choice in %s (%s)", path, exc)


def smooth_frame(h: int, w: int) -> np.ndarray:
    """A clean, smooth RGB frame (gradients under a gentle ripple): the content a model rebuilds at
    over 50 dB, where a one-level rounding error costs decibels."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    sx, sy = 320.0 / w, 180.0 / h  # the same picture at every size
    base = np.stack([60 + 0.4 * sx * xx, 90 + 0.3 * sy * yy, 150 - 0.2 * sx * xx + 0.1 * sy * yy], axis=-1)
    return np.clip(base + 6 * np.sin(sx * xx / 23.0)[..., None], 0, 255).astype(np.uint8)


def measure_frames(card: ModelCard) -> tuple[list[tuple[np.ndarray, ...]], list[np.ndarray]] | None:
    """(model inputs per frame, ground truth): the sample clip's frames and a smooth frame, or
    None when there is no sample clip.

    A recurrent model (frame + previous output) gets the clip's preceding ground-truth frame as
    its previous output (folded to the input's size for SR; the frames are spread over the clip,
    so this is a memory of the same scene, not an exact one), the same for every precision, so
    the runs are comparable without the stream's flow."""
    clip = default_clip()
    recurrent = bool(card.recurrent) and len(card.inputs) == 2
    if clip is None or card.task not in ("sr", "restore") or (len(card.inputs) != 1 and not recurrent):
        return None
    h, w = MEASURE_SIZE
    truth = read_frames(clip, count=MEASURE_FRAMES + int(recurrent), size=(h * card.scale, w * card.scale))
    frames = model_inputs(truth, card.task, card.scale)
    smooth = smooth_frame(h * card.scale, w * card.scale)
    smooth_input = model_inputs([smooth], card.task, card.scale)[0]
    if not recurrent:
        singles: list[tuple[np.ndarray, ...]] = [(x,) for x in [*frames, smooth_input]]
        return singles, [*truth, smooth]
    from ganstream.engines.recurrence import fold

    pairs: list[tuple[np.ndarray, ...]] = [(frames[i], fold(truth[i - 1], card.scale)) for i in range(1, len(truth))]
    pairs.append((smooth_input, fold(smooth, card.scale)))  # a still scene: its own previous output
    truth.append(smooth)
    return pairs, truth[1:]


def _timed_round(engine: Any, inputs: list[tuple[np.ndarray, ...]]) -> float:
    t0 = time.perf_counter()
    for xs in inputs:
        engine.infer(*(x[None] for x in xs))
    return (time.perf_counter() - t0) / len(inputs)


def measure(card: ModelCard, folder: Path, candidates: list[str]) -> PrecisionChoice:
    """Run every candidate and pick the fastest within the quality gate (fp32 always passes).

    The candidates take turns, round after round, so a burst of other work on the machine
    slows them alike instead of deciding the choice.
    """
    from ganstream.engines.backends.openvino_engine import OpenVinoEngine

    frames = measure_frames(card)
    if frames is None:
        return PrecisionChoice("fp32", "no sample frames to check reduced precision's quality against")
    inputs, truth = frames
    engines: dict[str, Any] = {}
    quality: dict[str, list[float]] = {}  # PSNR per frame
    for precision in ["fp32", *[c for c in candidates if c != "fp32"]]:
        try:
            engine = OpenVinoEngine(card, folder, precision)
            outs = [engine.infer(*(x[None] for x in xs))[0] for xs in inputs]  # also compiles: not timed
        except Exception as exc:  # a precision that cannot run here is simply not a candidate
            log.warning("precision %s of model '%s' does not run here: %s", precision, card.name, exc)
            continue
        engines[precision] = engine
        quality[precision] = [min(psnr(o, t), 99.0) for o, t in zip(outs, truth, strict=True)]
    times: dict[str, list[float]] = {p: [] for p in engines}
    for _ in range(MEASURE_REPEATS):
        for precision, engine in engines.items():
            times[precision].append(_timed_round(engine, inputs))
    for engine in engines.values():
        engine.close()
    ref = quality.get("fp32", [])

    def worst_drop(p: str) -> float:  # the frame where the precision loses most against fp32
        return max(0.0, *(r - q for r, q in zip(ref, quality[p], strict=True))) if ref else 0.0

    measured = {
        p: {"ms": round(1000.0 * statistics.median(times[p]), 2), "drop_db": round(worst_drop(p), 3)} for p in engines
    }
    best, reason = pick(measured)
    return PrecisionChoice(best, reason, measured)


def pick(measured: dict[str, dict[str, float]]) -> tuple[str, str]:
    """The fastest precision within the quality gate, and a sentence giving every measurement."""
    passing = {p: m for p, m in measured.items() if m["drop_db"] <= QUALITY_GATE_DB}
    best = min(passing, key=lambda p: passing[p]["ms"]) if passing else "fp32"
    parts = []
    for p, m in measured.items():
        verdict = "" if p in passing else f", fails the {QUALITY_GATE_DB} dB gate"
        parts.append(f"{p} {m['ms']:.1f} ms/frame, {-m['drop_db']:+.2f} dB vs fp32{verdict}")
    return best, f"fastest within {QUALITY_GATE_DB} dB of fp32 on every frame on this CPU: {'; '.join(parts)}"


def choose_precision(card: ModelCard, folder: Path, backend: str, candidates: list[str]) -> PrecisionChoice:
    """The cached choice for this machine and model, measured now if there is none."""
    if len(candidates) == 1:
        return PrecisionChoice(candidates[0], f"the only precision {backend} runs this model at on this CPU")
    key = cache_key(card, backend, candidates)
    hit = _load_cache().get(key)
    # a choice that measured nothing (an older release could not measure recurrent models) is re-measured
    if isinstance(hit, dict) and hit.get("precision") in candidates and hit.get("measured"):
        return PrecisionChoice(hit["precision"], hit.get("reason", ""), hit.get("measured", {}), cached=True)
    log.info("model '%s': measuring %s on this CPU to choose its precision", card.name, ", ".join(candidates))
    choice = measure(card, folder, candidates)
    _save_cache(key, choice)
    return choice
