"""The finely aligned recurrent state (`engines.recurrence.aligned`, `train recurrent --aligned`): it
keeps more of the previous output's detail, it travels in the card, and a run trains and exports it."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from ganstream.engines.errors import ModelCardError
from ganstream.engines.flow import FlowOptions
from ganstream.engines.recurrence import ALIGNED_FLOW, Recurrence, RecurrenceSpec, aligned, fold
from ganstream.stream.stages.recurrent_state import StreamMemory


def _textured(seed: int, h: int, w: int) -> np.ndarray:
    """Fine random texture, lightly smoothed: detail that a blurred or misplaced state loses."""
    noise = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    return np.asarray(cv2.GaussianBlur(noise, (0, 0), 1.2), dtype=np.uint8)


def _state_error(spec: RecurrenceSpec, hr0: np.ndarray, hr1: np.ndarray) -> float:
    """Mean error of the folded state against the truth for an x2 model whose previous output was
    perfect (`hr0`), the input being the area downscales of `hr0` and then `hr1`."""
    h, w = hr0.shape[:2]
    lr0, lr1 = (np.asarray(cv2.resize(f, (w // 2, h // 2), interpolation=cv2.INTER_AREA)) for f in (hr0, hr1))
    rec = Recurrence(spec)
    rec.previous_for(lr0)
    rec.update(np.ascontiguousarray(hr0))
    prev = rec.previous_for(lr1)
    inner = (slice(8, -8), slice(8, -8))
    return float(np.abs(prev[inner].astype(int) - fold(np.ascontiguousarray(hr1), 2)[inner]).mean())


@pytest.mark.parametrize(("angle", "zoom"), [(1.0, 1.0), (0.0, 1.03)])
def test_the_aligned_state_keeps_the_detail_of_the_previous_output(angle: float, zoom: float) -> None:
    """A camera turning or zooming by a little: every pixel moves by a fraction of a pixel that
    differs across the frame. The fine alignment's state is at least a quarter closer to the truth
    (measured: 0.34 to 0.61 of the coarse one's error over these and other seeds and textures)."""
    hr0 = _textured(angle > 0, 128, 160)
    move = cv2.getRotationMatrix2D((80, 64), angle, zoom)
    move[:, 2] += (0.7, 0.3)
    hr1 = np.asarray(cv2.warpAffine(hr0, move, (160, 128), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT))
    coarse = _state_error(RecurrenceSpec(scale=2), hr0, hr1)
    fine = _state_error(aligned(RecurrenceSpec(scale=2)), hr0, hr1)
    assert fine < 0.75 * coarse, (fine, coarse)


def test_the_alignment_travels_in_the_card_and_older_cards_keep_theirs() -> None:
    spec = aligned(RecurrenceSpec(scale=2, neighbours=1))
    card = SimpleNamespace(scale=2, recurrent=spec.to_card())  # what `from_card` reads of a card
    assert card.recurrent["warp"] == "cubic"
    assert card.recurrent["flow"]["finest_scale"] == 0
    assert RecurrenceSpec.from_card(card) == spec and spec.flow == ALIGNED_FLOW
    # a card written before the option: the preset's own level, bilinear warps
    old = SimpleNamespace(scale=1, recurrent={"flow": {"preset": "ultrafast", "downscale": 1}, "fold": 1})
    assert RecurrenceSpec.from_card(old) == RecurrenceSpec(scale=1, flow=FlowOptions())
    memory = StreamMemory(spec)
    assert memory.recurrence.spec.cubic_warp
    with pytest.raises(ModelCardError, match=r"recurrent\.warp"):
        RecurrenceSpec.from_card(SimpleNamespace(name="typo", scale=2, recurrent={**spec.to_card(), "warp": "bicubic"}))


def test_an_aligned_run_trains_and_exports_an_aligned_model(tmp_path: Path) -> None:
    """`train recurrent --aligned` from the shipped sr2x-clean: the run's memory aligns finely, the
    exported card says so (and the command that made it), and the engines run it."""
    from ganstream.engines import load_engine
    from ganstream.training.temporal.data import SequencePool
    from ganstream.training.temporal.export import export_run
    from ganstream.training.temporal.train import TemporalConfig, TemporalTrainer

    root = Path(__file__).resolve().parents[2]
    cfg = TemporalConfig(
        init=str(root / "engines" / "models" / "sr2x-clean"), out=str(tmp_path / "run"), threads=1,
        degrade="clean", batch=2, crop=32, length=3, steps=2, minutes=5.0, aligned=True, ema_decay=0.0,
    )  # fmt: skip
    trainer = TemporalTrainer(cfg)
    assert trainer.spec.cubic_warp and trainer.spec.flow == ALIGNED_FLOW
    big = _textured(7, 64, 96)
    frames = [np.ascontiguousarray(big[:, k : k + 64]) for k in range(0, 12, 2)]
    gt = np.stack(frames[:3])
    lr = np.stack([np.asarray(cv2.resize(f, (32, 32), interpolation=cv2.INTER_AREA)) for f in gt])
    state = trainer.run(SequencePool(clips={"pan": frames}, photos=[]), [(lr, gt)])
    assert state.step == 2
    assert json.loads((tmp_path / "run" / "config.json").read_text())["aligned"] is True
    result = export_run(tmp_path / "run", tmp_path / "models", "vsr2x-aligned-test")
    card = json.loads((result.folder / "card.json").read_text())
    assert card["recurrent"]["warp"] == "cubic" and card["recurrent"]["flow"]["finest_scale"] == 0
    assert "--aligned" in card["training"]["command"]
    engine = load_engine(result.folder, backend="ort")
    spec = RecurrenceSpec.from_card(engine.card)
    assert spec is not None and spec.cubic_warp
    # a run from that model keeps its alignment without being told, and its config says so
    again = TemporalTrainer(
        TemporalConfig(init=str(result.folder), out=str(tmp_path / "run2"), threads=1, degrade="clean")
    )
    assert again.spec.cubic_warp and again.cfg.aligned


def test_the_aligned_state_carries_neighbours_too() -> None:
    """Bicubic warps of the stacked previous input frames (more channels than OpenCV's bicubic remap
    takes at once) give each frame exactly its own warp."""
    from ganstream.engines.flow import Warper

    stack = np.random.default_rng(0).integers(0, 256, (24, 32, 7), dtype=np.uint8)
    flow = np.random.default_rng(1).normal(0, 2, (24, 32, 2)).astype(np.float32)
    warper = Warper(cubic=True)
    whole = warper.warp(stack, flow)
    for c in range(7):
        one = warper.warp(np.ascontiguousarray(stack[..., c]), flow)
        np.testing.assert_array_equal(whole[..., c], one)
    rec = Recurrence(aligned(RecurrenceSpec(scale=2, neighbours=2)))
    frame = _textured(3, 48, 64)
    for _ in range(3):
        prev = rec.previous_for(frame)
        rec.update(np.zeros((96, 128, 3), np.uint8))
    assert prev.shape == (48, 64, 12 + 6)
