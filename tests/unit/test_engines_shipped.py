"""The models shipped in the package: cards intact, every CPU backend agrees, SR beats nothing-broken.

Collected from the shipped models folder at import time; without shipped models the test is
skipped with the reason printed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ganstream.engines import ModelCard, load_engine
from ganstream.engines.card import CARD_FILENAME
from ganstream.engines.parity import check_parity
from ganstream.engines.store import SHIPPED_DIR

SHIPPED = sorted(p.parent for p in SHIPPED_DIR.glob(f"*/{CARD_FILENAME}"))
needs_models = pytest.mark.skipif(not SHIPPED, reason=f"no shipped models in {SHIPPED_DIR}")
params = pytest.mark.parametrize("folder", SHIPPED or [None], ids=[p.name for p in SHIPPED] or ["none"])


@needs_models
@params
def test_shipped_card_and_artifacts_verify(folder: Path) -> None:
    card = ModelCard.load(folder)
    assert card.name == folder.name
    for fname in card.artifacts:
        card.verify_artifact(folder, fname)
    assert card.artifact("onnx"), "every shipped model needs an ONNX graph for the CPU backends"


@needs_models
@params
def test_shipped_model_backends_agree(folder: Path) -> None:
    card = ModelCard.load(folder)
    m = card.limits.multiple_of
    rows = check_parity(folder, height=8 * m if m > 4 else 32, width=12 * m if m > 4 else 48, batch=1, seed=0)
    bad = [r for r in rows if not r.ok]
    assert not bad, bad


@needs_models
@params
def test_shipped_sr_model_is_not_worse_than_bicubic_on_real_frames(folder: Path) -> None:
    import cv2

    from ganstream.engines.calib import default_clip, downscale, psnr, read_frames

    card = ModelCard.load(folder)
    if card.task != "sr":
        pytest.skip(f"{card.name} is a {card.task} model")
    clip = default_clip()
    if clip is None:
        pytest.skip("the sample clip is not installed")
    hr = read_frames(clip, count=4)
    lr = downscale(hr, card.scale)
    eng = load_engine(folder, backend="ort")
    ours, bicubic = [], []
    for lo, hi in zip(lr, hr, strict=True):
        hi = hi[: lo.shape[0] * card.scale, : lo.shape[1] * card.scale]
        ours.append(psnr(eng.infer(lo[None])[0], hi))
        up = cv2.resize(lo, (hi.shape[1], hi.shape[0]), interpolation=cv2.INTER_CUBIC)
        bicubic.append(psnr(up, hi))
    print(f"{card.name}: {np.mean(ours):.2f} dB vs bicubic {np.mean(bicubic):.2f} dB")
    assert np.mean(ours) > np.mean(bicubic) - 0.5
