"""GPU checks: torch on CUDA (fp16, channels_last, CUDA graphs) and TensorRT with pycuda.

Skipped, with the reason printed (pytest -ra), where there is no CUDA GPU or no TensorRT.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from ganstream.engines import load_engine

torch = pytest.importorskip("torch", reason="torch is not installed")
if not torch.cuda.is_available():
    pytest.skip("no CUDA GPU: GPU tests skipped", allow_module_level=True)

from ganstream.engines.devmodel import TINY_SR2X_ARCH, make_random_model  # noqa: E402

needs_trt = pytest.mark.skipif(
    importlib.util.find_spec("tensorrt") is None or importlib.util.find_spec("pycuda") is None,
    reason="TensorRT or pycuda is not installed",
)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("store") / "tiny-sr2x"
    make_random_model(folder, arch=TINY_SR2X_ARCH)
    return folder


def frames(n: int = 2, h: int = 90, w: int = 160) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, h, w, 3), dtype=np.uint8)


@pytest.mark.gpu
def test_torch_cuda_fp16_with_graphs_matches_cpu_reference(model_dir: Path) -> None:
    x = frames()
    ref = load_engine(model_dir, backend="ort").infer(x)
    eng = load_engine(model_dir, backend="torch", device="cuda", precision="fp16")
    assert eng.precision == "fp16" and "cuda graphs" in eng.summary()
    out1 = eng.infer(x)
    out2 = eng.infer(x)  # replayed graph
    np.testing.assert_array_equal(out1, out2)
    d = np.abs(out1.astype(np.int16) - ref.astype(np.int16))
    assert d.max() <= 4 and d.mean() < 0.5


@pytest.mark.gpu
def test_auto_picks_a_gpu_backend(model_dir: Path) -> None:
    assert load_engine(model_dir).backend in ("trt", "torch")


@pytest.mark.gpu
@pytest.mark.trt
@needs_trt
def test_trt_plan_builds_caches_and_matches_reference(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GANSTREAM_CACHE", str(tmp_path / "cache"))
    x = frames(1)
    ref = load_engine(model_dir, backend="ort").infer(x)
    eng = load_engine(model_dir, backend="trt", precision="fp16", shapes=[(90, 160)])
    out = eng.infer(x)
    d = np.abs(out.astype(np.int16) - ref.astype(np.int16))
    assert d.max() <= 4 and d.mean() < 0.5
    outs = list(eng.infer_many([(x,), (x,), (x,)]))  # two batches in flight
    for o in outs:
        np.testing.assert_array_equal(o, out)
    plans = list((tmp_path / "cache").glob("*/model.plan"))
    assert len(plans) == 1
    eng2 = load_engine(model_dir, backend="trt", precision="fp16", shapes=[(90, 160)])  # from the cache
    np.testing.assert_array_equal(eng2.infer(x), out)
