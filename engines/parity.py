"""Cross-check every available backend against the fp32 reference on fresh random frames.

As torch2trt does: a backend that disagrees with onnxruntime fp32 by more than rounding (fp32)
or than its precision allows (bf16 / fp16 / int8) is broken, whatever its speed. int8 graphs
are checked on real frames (the bundled clip resized to the same size) instead: their activation
ranges are calibrated on real pictures, and uniform noise drives them far outside those ranges.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ganstream.engines.card import ModelCard
from ganstream.engines.errors import EngineError
from ganstream.engines.feed import example_inputs
from ganstream.engines.loader import load_engine
from ganstream.engines.variants import Variant, cpu_variants, gpu_variants

# Largest mean absolute difference (in 8-bit levels) each precision may show against fp32.
MEAN_TOLERANCE = {"fp32": 0.05, "fp16": 0.5, "bf16": 1.0, "int8": 2.0}


@dataclass(frozen=True)
class ParityRow:
    variant: str
    max_diff: int
    mean_diff: float
    ok: bool
    error: str = ""


def random_inputs(card: ModelCard, height: int, width: int, batch: int, seed: int) -> list[np.ndarray]:
    return example_inputs(card, batch, height, width, seed)


def check_parity(
    folder: Path, height: int = 64, width: int = 96, batch: int = 2, seed: int | None = None
) -> list[ParityRow]:
    """Rows for every variant that can run here; the reference is onnxruntime fp32."""
    card = ModelCard.load(folder)
    fresh = seed if seed is not None else int(np.random.default_rng().integers(2**31))
    inputs = random_inputs(card, height, width, batch, fresh)
    ref = load_engine(folder, backend="ort", precision="fp32").infer(*inputs).astype(np.int16)
    cpu, _ = cpu_variants(card, folder)
    gpu, _ = gpu_variants(card, folder, [(height, width)])
    real = real_inputs(card, height, width, batch)
    real_ref = load_engine(folder, backend="ort", precision="fp32").infer(*real).astype(np.int16) if real else None
    rows: list[ParityRow] = []
    for v in [x for x in cpu if x.label != "ort fp32"] + gpu:
        if v.precision == "int8" and real is not None and real_ref is not None:
            rows.append(_compare(folder, v, real, real_ref))
        else:
            rows.append(_compare(folder, v, inputs, ref))
    return rows


def real_inputs(card: ModelCard, height: int, width: int, batch: int) -> list[np.ndarray] | None:
    """`batch` frames of the bundled clip at height x width, for a single-frame uint8 model."""
    from ganstream.engines.calib import default_clip, read_frames

    clip = default_clip()
    if clip is None or len(card.inputs) != 1 or card.inputs[0].dtype != "uint8":
        return None
    return [np.stack(read_frames(clip, count=batch, size=(height, width)))]


def _compare(folder: Path, v: Variant, inputs: list[np.ndarray], ref: np.ndarray) -> ParityRow:
    try:
        eng = load_engine(folder, backend=v.backend, precision=v.precision, **dict(v.options))
        out = eng.infer(*inputs)
        eng.close()
    except EngineError as exc:
        return ParityRow(v.label, -1, float("nan"), False, str(exc))
    d = np.abs(out.astype(np.int16) - ref)
    mean = float(d.mean())
    return ParityRow(v.label, int(d.max()), mean, mean <= MEAN_TOLERANCE.get(v.precision, 1.0))
