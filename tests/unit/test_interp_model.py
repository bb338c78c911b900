"""The synthesis network: export parity and the engine path the live stage uses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ganstream.engines import ModelCard, load_engine
from ganstream.engines.flow import Fallback
from ganstream.stream.errors import StageError
from ganstream.stream.stages.interp_synth import FlowSynth, NetSynth
from tests.unit.test_interp_flow import panning

torch = pytest.importorskip("torch", reason="export needs torch (the train extra)")

from ganstream.engines.archs.interp_fusion import FlowFusionNet  # noqa: E402
from ganstream.training.interp.export import export_model, random_inputs  # noqa: E402


def randomised(num_feat: int = 8, seed: int = 0) -> FlowFusionNet:
    """A small net with every weight random (its heads start at zero otherwise)."""
    torch.manual_seed(seed)
    net = FlowFusionNet(num_feat=num_feat, num_conv=1)
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0.0, 0.1)
    return net.eval()


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[FlowFusionNet, Path]:
    net = randomised()
    res = export_model(net, tmp_path_factory.mktemp("models") / "interp-test", name="interp-test")
    assert res.max_abs_diff <= 1
    return net, res.folder


@pytest.mark.parametrize("backend", ["ort", "openvino"])
def test_exported_graph_matches_torch_through_the_engine(exported: tuple[FlowFusionNet, Path], backend: str) -> None:
    net, folder = exported
    eng = load_engine(folder, backend=backend, precision="fp32")
    inputs = random_inputs(2, (36, 52), seed=3)
    got = eng.infer(*inputs)
    from ganstream.engines.archs.interp_fusion import InterpUint8NHWC

    with torch.no_grad():
        ref = InterpUint8NHWC(net)(*(torch.from_numpy(a) for a in inputs)).numpy()
    assert got.shape == ref.shape == (2, 36, 52, 3)
    assert np.abs(got.astype(int) - ref.astype(int)).max() <= 1
    eng.close()


def test_untrained_network_is_the_classical_average(tmp_path: Path) -> None:
    """Zero-initialised heads: the graph must reproduce FlowSynth (same flow, warps and mix)."""
    res = export_model(FlowFusionNet(num_feat=8, num_conv=1), tmp_path / "zero", name="zero")
    synth = NetSynth(load_engine(res.folder, backend="ort"))
    f0, _, f1 = panning()
    f0, f1 = f0[:, :90], f1[:, :90]  # 90 columns: not a multiple of 4, the synth pads and crops
    ours = synth.synthesize(f0, f1, [0.25, 0.5])
    # The classical average on float-map warps: what the network was trained on top of.
    ref = FlowSynth(fixed_point_warp=False, fallback=Fallback(share=0.0)).synthesize(f0, f1, [0.25, 0.5])
    for a, b in zip(ours, ref, strict=True):
        assert a.shape == b.shape == (64, 90, 3)
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 1


def test_card_names_the_flow_fed_inputs(exported: tuple[FlowFusionNet, Path]) -> None:
    card = ModelCard.load(exported[1])
    assert (card.task, card.window, card.limits.multiple_of) == ("interp", 2, 4)
    assert [s.name for s in card.inputs] == ["warped0", "warped1", "t", "flow_t0", "flow_t1"]
    assert card.arch["flow"] == {"preset": "ultrafast", "downscale": 1}  # what the runtime computes


def test_net_synth_refuses_other_tasks() -> None:
    class FakeEngine:
        card = ModelCard(name="sr2x", task="sr", scale=2)

    with pytest.raises(StageError, match="interp model"):
        NetSynth(FakeEngine())
