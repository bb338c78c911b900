"""Export: ONNX with uint8 NHWC I/O and dynamic sizes, parity with torch, card with checksums."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from ganstream.engines.archs import Uint8NHWC, build_generator  # noqa: E402
from ganstream.engines.card import ModelCard  # noqa: E402
from ganstream.training.errors import ExportError  # noqa: E402
from ganstream.training.export import export_generator  # noqa: E402

SR_ARCH = {"name": "srvgg", "params": {"scale": 2, "num_feat": 8, "num_conv": 2}}
RESTORE_ARCH = {"name": "restore", "params": {"num_feat": 8, "num_conv": 2}}


def _perturbed(arch: dict) -> torch.nn.Module:
    """A generator whose body is far from identity, so parity checks real arithmetic."""
    torch.manual_seed(0)
    model = build_generator(arch)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


@pytest.mark.parametrize(("arch", "task", "scale"), [(SR_ARCH, "sr", 2), (RESTORE_ARCH, "restore", 1)])
def test_export_writes_a_model_folder_that_matches_torch(tmp_path: Path, arch: dict, task: str, scale: int) -> None:
    model = _perturbed(arch)
    result = export_generator(model, arch, tmp_path, "m", task=task, scale=scale, training={"steps": 0})
    card = ModelCard.load(result.folder)
    assert card.task == task and card.scale == scale and card.arch == arch
    for fname in ("model.onnx", "model.safetensors"):
        card.verify_artifact(result.folder, fname)
    assert result.max_abs_diff <= 2 and card.metrics["export_max_abs_diff"] == result.max_abs_diff

    session = ort.InferenceSession(str(result.folder / "model.onnx"), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].type == "tensor(uint8)"
    frames = np.random.default_rng(7).integers(0, 256, size=(3, 22, 30, 3), dtype=np.uint8)
    got = session.run(None, {"input": frames})[0]
    assert got.dtype == np.uint8 and got.shape == (3, 22 * scale, 30 * scale, 3)
    with torch.no_grad():
        ref = Uint8NHWC(model.eval())(torch.from_numpy(frames)).numpy()
    assert np.abs(got.astype(int) - ref.astype(int)).max() <= 2


def test_safetensors_rebuilds_the_same_generator(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    model = _perturbed(SR_ARCH)
    result = export_generator(model, SR_ARCH, tmp_path, "m", task="sr", scale=2)
    rebuilt = build_generator(ModelCard.load(result.folder).arch)
    rebuilt.load_state_dict(load_file(str(result.folder / "model.safetensors")))
    x = torch.rand(1, 3, 12, 10)
    with torch.no_grad():
        assert torch.equal(rebuilt.eval()(x), model.eval()(x))


def test_export_refuses_a_graph_that_disagrees_with_torch(tmp_path: Path) -> None:
    class Disagrees(torch.nn.Module):
        """Differs between tracing and eager runs: eager adds 10 levels to a batch of one."""

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if not torch.compiler.is_compiling() and not torch.jit.is_tracing() and x.shape[0] == 1:
                return (x.int() + 10).clamp(0, 255).to(torch.uint8)
            return x

    model = build_generator(RESTORE_ARCH)
    with pytest.raises(ExportError, match="differs from torch"):
        export_generator(model, RESTORE_ARCH, tmp_path, "bad", task="restore", wrapped=Disagrees(), tolerance=1)
    assert not (tmp_path / "bad").exists()
