"""load_engine, the model store and the ort backend on real onnxruntime sessions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ganstream.engines import (
    ModelCard,
    ModelCardError,
    ModelNotFoundError,
    ShapeError,
    ShapeLimits,
    list_models,
    load_engine,
)

pytest.importorskip("torch", reason="making a test model needs torch (the train extra)")
from tests.helpers import make_small_model
from tests.helpers import random_frames as frames


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("store") / "small-sr2x"
    make_small_model(folder)
    return folder


def test_ort_engine_upscales_uint8_nhwc(model_dir: Path) -> None:
    eng = load_engine(model_dir, backend="ort")
    out = eng.infer(frames(2, 24, 32))
    assert out.shape == (2, 48, 64, 3) and out.dtype == np.uint8
    assert (eng.backend, eng.precision) == ("ort", "fp32")
    assert eng.card.name == "small-sr2x" and "backend ort, precision fp32" in eng.summary()
    eng.close()
    with pytest.raises(RuntimeError, match="closed"):
        eng.infer(frames())


def test_store_finds_models_by_name_and_lists_them(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANSTREAM_MODELS", str(model_dir.parent))
    names = [m.name for m in list_models()]
    assert "small-sr2x" in names
    assert load_engine("small-sr2x", backend="ort").card.scale == 2
    with pytest.raises(ModelNotFoundError, match="small-sr2x") as err:
        load_engine("no-such-model")
    assert isinstance(err.value, LookupError)


def test_batch_equals_single_calls(model_dir: Path) -> None:
    eng = load_engine(model_dir, backend="ort")
    x = frames(3, 16, 20, seed=1)
    together = eng.infer(x)
    apart = np.concatenate([eng.infer(x[i : i + 1]) for i in range(3)])
    np.testing.assert_array_equal(together, apart)


def test_bad_inputs_raise_shape_error_in_one_line(model_dir: Path) -> None:
    eng = load_engine(model_dir, backend="ort")
    for bad in (frames().astype(np.float32), frames()[0], np.zeros((1, 8, 8, 4), np.uint8)):
        with pytest.raises(ShapeError) as err:
            eng.infer(bad)
        assert "\n" not in str(err.value) and "input" in str(err.value)
    with pytest.raises(ShapeError, match="takes 1 input"):
        eng.infer(frames(), frames())


def _copy_model(src: Path, dst: Path, **card_changes: object) -> Path:
    dst.mkdir(parents=True)
    for f in src.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    card = ModelCard.load(dst)
    for k, v in card_changes.items():
        setattr(card, k, v)
    card.save(dst)
    return dst


def test_frame_outside_limits_is_refused(model_dir: Path, tmp_path: Path) -> None:
    folder = _copy_model(model_dir, tmp_path / "m", limits=ShapeLimits(max_height=32, max_width=32))
    with pytest.raises(ShapeError, match="outside"):
        load_engine(folder, backend="ort").infer(frames(1, 40, 24))


def test_padding_to_multiple_of_crops_back(model_dir: Path, tmp_path: Path) -> None:
    folder = _copy_model(model_dir, tmp_path / "m", limits=ShapeLimits(multiple_of=8))
    x = frames(1, 21, 30, seed=2)
    padded = load_engine(folder, backend="ort").infer(x)
    plain = load_engine(model_dir, backend="ort").infer(x)
    assert padded.shape == plain.shape == (1, 42, 60, 3)
    # Away from the padded border (beyond the receptive field) both agree exactly.
    np.testing.assert_array_equal(padded[:, :30, :40], plain[:, :30, :40])


def test_corrupt_artifact_is_refused_with_sha256_message(model_dir: Path, tmp_path: Path) -> None:
    folder = _copy_model(model_dir, tmp_path / "m")
    data = bytearray((folder / "model.onnx").read_bytes())
    data[-10] ^= 0xFF
    (folder / "model.onnx").write_bytes(bytes(data))
    with pytest.raises(ModelCardError, match="sha256") as err:
        load_engine(folder, backend="ort")
    assert isinstance(err.value, ValueError) and "\n" not in str(err.value)


def test_missing_artifact_and_missing_card(model_dir: Path, tmp_path: Path) -> None:
    folder = _copy_model(model_dir, tmp_path / "m")
    (folder / "model.onnx").unlink()
    with pytest.raises(ModelCardError, match="missing"):
        load_engine(folder, backend="ort")
    (folder / "card.json").unlink()
    with pytest.raises(ModelNotFoundError, match=r"no card\.json"):
        load_engine(folder, backend="ort")


def test_card_naming_other_inputs_than_the_graph_is_refused(model_dir: Path, tmp_path: Path) -> None:
    from ganstream.engines.card import TensorSpec

    folder = _copy_model(model_dir, tmp_path / "m", inputs=[TensorSpec("frames")])
    with pytest.raises(ModelCardError, match="inputs"):
        load_engine(folder, backend="ort")


def test_unknown_backend_and_precision(model_dir: Path) -> None:
    with pytest.raises(RuntimeError, match="unknown backend"):
        load_engine(model_dir, backend="cuda-magic")
    with pytest.raises(ValueError, match="precision"):
        load_engine(model_dir, backend="ort", precision="fp8")


def test_loading_with_ort_does_not_import_torch(model_dir: Path) -> None:
    code = (
        "import sys, numpy as np; from ganstream.engines import load_engine;"
        f"e = load_engine({str(model_dir)!r}, backend='ort'); e.infer(np.zeros((1, 16, 16, 3), np.uint8));"
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_search_order_env_then_user_dir_and_unreadable_cards(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ganstream.engines.store import resolve_model, search_path

    env_a, env_b, xdg = tmp_path / "a", tmp_path / "b", tmp_path / "xdg"
    user = xdg / "ganstream" / "models"
    _copy_model(model_dir, env_b / "small-sr2x")
    _copy_model(model_dir, user / "small-sr2x")
    _copy_model(model_dir, user / "user-only")
    (env_a / "broken").mkdir(parents=True)
    (env_a / "broken" / "card.json").write_text("{not json")
    monkeypatch.setenv("GANSTREAM_MODELS", f"{env_a}:{env_b}")
    monkeypatch.setenv("XDG_DATA_HOME", str(xdg))
    assert search_path()[:3] == [env_a, env_b, user]
    assert resolve_model("small-sr2x") == env_b / "small-sr2x"  # the first folder on the path wins
    assert resolve_model("user-only") == user / "user-only"
    found = {m.name: m for m in list_models()}
    assert found["small-sr2x"].folder == env_b / "small-sr2x"
    assert found["broken"].card is None and "not a valid JSON card" in found["broken"].problem
    with pytest.raises(ModelCardError, match="JSON"):
        load_engine("broken")


def test_precision_a_backend_cannot_run(model_dir: Path) -> None:
    from ganstream.engines import BackendUnavailableError

    with pytest.raises(BackendUnavailableError, match="runs fp32, int8, not fp16"):
        load_engine(model_dir, backend="ort", precision="fp16")
    from ganstream.engines.backends.torch_engine import nvidia_gpu_present

    if nvidia_gpu_present():
        pytest.skip("with a GPU, auto may pick torch or trt for fp16")
    # auto skips backends that cannot run the precision asked for, and says why for each
    with pytest.raises(BackendUnavailableError, match="ort: runs fp32, int8, not fp16"):
        load_engine(model_dir, precision="fp16")
    eng = load_engine(model_dir, precision="fp32")
    assert (eng.backend, eng.precision) == ("openvino", "fp32")
