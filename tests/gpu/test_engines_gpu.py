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


@pytest.mark.gpu
def test_recurrent_model_replays_a_cuda_graph_and_matches_cpu_reference() -> None:
    """vrestore (frame + previous output): every input has a static buffer in the captured graph."""
    from ganstream.engines.card import ModelCard
    from ganstream.engines.parity import random_inputs

    folder = Path(__file__).resolve().parents[2] / "engines" / "models" / "vrestore"
    inputs = random_inputs(ModelCard.load(folder), 90, 160, 2, seed=1)
    ref = load_engine(folder, backend="ort").infer(*inputs)
    eng = load_engine(folder, backend="torch", device="cuda", precision="fp16")
    assert "cuda graphs" in eng.summary()
    out1 = eng.infer(*inputs)
    out2 = eng.infer(*inputs[:1], inputs[1][::-1].copy())  # the same graph, other previous frames
    assert not np.array_equal(out1, out2)
    np.testing.assert_array_equal(eng.infer(*inputs), out1)
    d = np.abs(out1.astype(np.int16) - ref.astype(np.int16))
    assert d.max() <= 4 and d.mean() < 0.5


@pytest.mark.gpu
def test_vrestore_stream_on_cuda_matches_the_cpu_stream() -> None:
    """`--restore --model vrestore` on a GPU without TensorRT runs on torch: the whole stream (memory
    fed back frame after frame, DIS flow on the CPU) stays within fp16 rounding of onnxruntime's."""
    from ganstream.stream.frame import Frame, VideoSpec
    from ganstream.stream.stages.enhance import EnhanceStage

    rng = np.random.default_rng(5)
    base = rng.integers(40, 216, (144, 192, 3)).astype(np.float64)
    noisy = [
        np.clip(np.roll(base, i, axis=1) + rng.normal(0, 15, base.shape), 0, 255).astype(np.uint8) for i in range(6)
    ]

    def stream(backend: str, precision: str, **options: str) -> list[np.ndarray]:
        stage = EnhanceStage(load_engine("vrestore", backend=backend, precision=precision, **options))
        stage.configure(VideoSpec(192, 144))
        out = [
            stage.process(Frame(f, pts=i * 40_000_000, duration=40_000_000, seq=i))[0].pixels
            for i, f in enumerate(noisy)
        ]
        stage.close()
        return out

    for o, r in zip(stream("torch", "fp16", device="cuda"), stream("ort", "fp32"), strict=True):
        d = np.abs(o.astype(np.int16) - r.astype(np.int16))
        assert d.mean() < 0.5 and d.max() <= 8, (int(d.max()), float(d.mean()))


@pytest.mark.gpu
def test_interp_network_trains_on_cuda_and_exports(tmp_path: Path) -> None:
    """`ganstream train interp --device cuda`: the network and its batches on the GPU, flows and
    warps on the CPU; the checkpoint and the export are the CPU's (safetensors, ONNX)."""
    from ganstream.training.interp.export import export_run
    from ganstream.training.interp.train import TrainConfig, train
    from tests.unit.test_interp_training import write_clip

    data, val = write_clip(tmp_path / "train" / "a", n=10), write_clip(tmp_path / "val" / "b", n=7, seed=1)
    cfg = TrainConfig.from_preset(
        "tiny", data=[str(data)], val=[str(val)], out=str(tmp_path / "run"), steps=6, device="cuda"
    )
    state = train(cfg)
    assert state.step == 6 and np.isfinite(state.best_psnr)
    assert "GPU" in cfg.machine
    res = export_run(tmp_path / "run", tmp_path / "models" / "interp-gpu")
    assert res.card.arch["warp"] == "cubic" and "GPU" in res.card.training["machine"]


@pytest.mark.gpu
def test_recurrent_training_steps_on_cuda_and_runs_like_the_cpu(tmp_path: Path) -> None:
    """`ganstream train recurrent --device cuda`: a step on the GPU, and the runtime's unrolled
    sequence (DIS flow and warps on the CPU) gives the CPU model's frames."""
    import copy

    from ganstream.training.temporal.train import TemporalConfig, TemporalTrainer, run_sequence

    init = str(Path(__file__).resolve().parents[2] / "engines" / "models" / "restore")
    trainer = TemporalTrainer(TemporalConfig(init=init, out=str(tmp_path / "run"), device="cuda", threads=2))
    assert next(trainer.model.parameters()).is_cuda
    rng = np.random.default_rng(0)
    hr = rng.integers(0, 256, (2, 3, 48, 48, 3), dtype=np.uint8)
    lr = np.clip(hr + rng.normal(0, 15, hr.shape), 0, 255).astype(np.uint8)
    assert np.isfinite(trainer.step(lr, hr))
    cpu_model = copy.deepcopy(trainer.model).cpu().eval()
    trainer.model.eval()
    on_gpu, on_cpu = run_sequence(trainer.model, lr[0], trainer.spec), run_sequence(cpu_model, lr[0], trainer.spec)
    assert np.abs(on_gpu.astype(np.int16) - on_cpu.astype(np.int16)).max() <= 2
