"""NNCF int8 variants: built from frames, recorded in the card, run by OpenVINO and onnxruntime."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ganstream.engines import ModelCard, ModelNotFoundError, load_engine
from ganstream.engines.calib import psnr, read_frames

pytest.importorskip("torch", reason="making a test model needs torch (the train extra)")
pytest.importorskip("nncf", reason="int8 quantization needs nncf (the int8 extra)")
from ganstream.engines.backends.openvino_engine import candidate_precisions, default_precision
from ganstream.engines.quantize import build_int8
from tests.helpers import make_small_model


def scene(seed: int, h: int = 64, w: int = 96) -> np.ndarray:
    """A frame with edges, gradients and texture, written to disk as a PNG like a real image."""
    import cv2

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx * 255 // w, yy * 255 // h, (xx + yy) * 127 // (h + w)], axis=-1).astype(np.uint8)
    for _ in range(6):
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        cv2.circle(img, (int(rng.integers(0, w)), int(rng.integers(0, h))), int(rng.integers(4, 20)), color, -1)
    noise = rng.normal(0, 4, img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import cv2

    folder = tmp_path_factory.mktemp("images")
    for i in range(8):
        cv2.imwrite(str(folder / f"{i:02d}.png"), scene(i)[:, :, ::-1])
    return folder


@pytest.fixture()
def model_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "small-sr2x"
    make_small_model(folder)
    return folder


def test_read_frames_from_images_and_errors(image_dir: Path, tmp_path: Path) -> None:
    frames = read_frames(image_dir, count=5, size=(32, 48))
    assert len(frames) == 5 and frames[0].shape == (32, 48, 3) and frames[0].dtype == np.uint8
    with pytest.raises(ModelNotFoundError):
        read_frames(tmp_path / "missing.mp4")
    with pytest.raises(ModelNotFoundError, match="no decodable"):
        read_frames(tmp_path)


def test_read_frames_from_a_video_clip(tmp_path: Path) -> None:
    import cv2

    clip = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10, (96, 64))
    for i in range(12):
        writer.write(np.ascontiguousarray(scene(i)[:, :, ::-1]))
    writer.release()
    frames = read_frames(clip, count=4)
    assert len(frames) == 4 and frames[0].shape == (64, 96, 3)
    # Spread over the clip, RGB order: each matches the scene written at its position.
    for got, index in zip(frames, (0, 3, 7, 11), strict=True):
        assert psnr(got, scene(index)) > 25.0


def test_build_int8_records_quality_and_runs_on_both_runtimes(model_dir: Path, image_dir: Path) -> None:
    frames = read_frames(image_dir, count=8)
    folder = build_int8(ModelCard.load(model_dir), model_dir, frames[:5], frames[5:], "test images")
    assert folder == model_dir
    card = ModelCard.load(folder)
    assert {"model.int8.onnx", "model.int8.xml", "model.int8.bin"} <= set(card.artifacts)
    q = card.metrics["int8"]
    assert q["frames"] == 3 and q["calibration"]["frames"] == 5
    assert q["ships"] == (q["psnr_drop_db"] < 0.1)
    x = frames[6][None, ::2, ::2].copy()
    ref = load_engine(folder, backend="ort").infer(x)[0]
    for backend in ("openvino", "ort"):
        engine = load_engine(folder, backend=backend, precision="int8")
        out = engine.infer(x)[0]
        assert psnr(out, ref) > 35.0, backend
    # OpenVINO runs the OpenVINO-native int8 graph, onnxruntime the QDQ ONNX one.
    assert load_engine(folder, backend="openvino", precision="int8").graph_file == "model.int8.xml"
    assert default_precision(card, folder) in candidate_precisions(card)
    assert ("int8" in candidate_precisions(card)) == q["ships"]


def test_int8_default_only_when_the_drop_is_small(model_dir: Path, image_dir: Path) -> None:
    frames = read_frames(image_dir, count=6)
    build_int8(ModelCard.load(model_dir), model_dir, frames[:4], frames[4:], "test images")
    card = ModelCard.load(model_dir)
    card.metrics["int8"]["psnr_drop_db"] = 0.5
    card.save(model_dir)
    assert "int8" not in candidate_precisions(card)
    assert default_precision(card, model_dir) != "int8"
    card.metrics["int8"]["psnr_drop_db"] = 0.02
    card.save(model_dir)
    assert "int8" in candidate_precisions(card)
    # Among the candidates, the one measured fastest within the quality gate on this machine.
    engine = load_engine(model_dir, backend="openvino")
    assert engine.precision in candidate_precisions(card)
    assert "fastest within" in engine.summary() and "int8" in engine.precision_reason


def test_read_only_model_gets_a_user_copy(
    model_dir: Path, image_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ganstream.engines import quantize

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    # An installed model's folder is read-only; root could write anyway, so say it is not writable.
    monkeypatch.setattr(quantize, "is_writable", lambda folder: folder != model_dir)
    frames = read_frames(image_dir, count=4)
    out = build_int8(ModelCard.load(model_dir), model_dir, frames[:2], frames[2:], "test images")
    assert out == tmp_path / "xdg" / "ganstream" / "models" / "small-sr2x"
    assert {"model.int8.onnx", "model.int8.xml"} <= set(ModelCard.load(out).artifacts)
    assert "model.int8.onnx" not in ModelCard.load(model_dir).artifacts


def test_calibration_inputs_match_the_task() -> None:
    from ganstream.engines.calib import model_inputs

    frames = [np.full((8, 12, 3), 128, np.uint8)]
    assert model_inputs(frames, "sr", 2)[0].shape == (4, 6, 3)
    noisy = model_inputs(frames, "restore", 1)
    assert noisy[0].shape == (8, 12, 3) and 5 < psnr(noisy[0], frames[0]) < 30  # sigma-15 noise, not a copy
    assert np.array_equal(noisy[0], model_inputs(frames, "restore", 1)[0])  # seeded
