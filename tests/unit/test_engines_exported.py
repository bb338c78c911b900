"""Models written by the training export (dynamo ONNX, safetensors, card) run on every CPU backend.

One small restoration model: its export is the slow part (the dynamo exporter), and it covers
what the random test models of the other engine tests do not: the training export's graph and
card, and a model that needs even frame sizes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ganstream.engines import load_engine
from ganstream.engines.parity import check_parity

torch = pytest.importorskip("torch", reason="the training export needs torch (the train extra)")
from ganstream.engines.archs import build_generator  # noqa: E402
from ganstream.training.export import export_generator  # noqa: E402

pytestmark = pytest.mark.slow
ARCH = {"name": "restore", "params": {"num_feat": 8, "num_conv": 2}}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("exported")
    return export_generator(build_generator(ARCH), ARCH, root, "tiny-restore", task="restore").folder


def test_every_cpu_backend_agrees_on_an_exported_model(exported: Path) -> None:
    rows = check_parity(exported, height=24, width=36, batch=2, seed=1)
    assert {r.variant for r in rows} >= {"torch fp32", "openvino fp32"}
    assert all(r.ok for r in rows), rows


def test_odd_sizes_are_padded_for_models_that_need_even_ones(exported: Path) -> None:
    eng = load_engine(exported, backend="openvino", precision="fp32")
    x = np.random.default_rng(2).integers(0, 256, (1, 23, 35, 3), dtype=np.uint8)
    s = eng.card.scale
    assert eng.infer(x).shape == (1, 23 * s, 35 * s, 3)
    ref = load_engine(exported, backend="ort").infer(x)
    assert np.abs(eng.infer(x).astype(int) - ref.astype(int)).max() <= 1
