"""The synthesis network: export parity and the engine path the live stage uses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ganstream.engines import ModelCard, load_engine
from ganstream.engines.flow import Fallback, FlowOptions
from ganstream.stream.errors import StageError
from ganstream.stream.stages.interp_synth import FlowSynth, NetSynth
from tests.unit.test_interp_flow import panning

torch = pytest.importorskip("torch", reason="export needs torch (the train extra)")

from ganstream.engines.archs.interp_fusion import FlowFusionNet  # noqa: E402
from ganstream.training.interp.export import export_model, random_inputs  # noqa: E402


def randomised(num_feat: int = 8, seed: int = 0) -> FlowFusionNet:
    """A small net with every weight random (its heads start at zero otherwise), on `flow`'s base."""
    from dataclasses import asdict

    torch.manual_seed(seed)
    net = FlowFusionNet(num_feat=num_feat, num_conv=1, fallback=asdict(Fallback()))
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


@pytest.mark.parametrize("backend", ["ort", "openvino", "torch"])
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


@pytest.mark.parametrize(("coarse", "warp"), [(0, "cubic"), (2, "bilinear")])
def test_untrained_network_is_the_classical_average(tmp_path: Path, coarse: int, warp: str) -> None:
    """Zero-initialised heads: the graph must reproduce FlowSynth (same flow, warps and mix);
    with coarse levels the frames are padded to multiples of 16 and cropped back. The card's
    warp kernel is the one the runtime uses."""
    net = FlowFusionNet(num_feat=8, num_conv=1, coarse=coarse)
    res = export_model(net, tmp_path / "zero", name="zero", warp=warp)
    assert res.card.arch["warp"] == warp
    assert res.card.limits.multiple_of == 4 * 2**coarse
    synth = NetSynth(load_engine(res.folder, backend="ort"))
    f0, _, f1 = panning()
    f0, f1 = f0[:, :90], f1[:, :90]  # 90 columns: not a multiple of 4, the synth pads and crops
    ours = synth.synthesize(f0, f1, [0.25, 0.5])
    # The classical average on float-map warps of the card's kernel: what the network was trained on top of.
    plain = FlowSynth(FlowOptions(), fixed_point_warp=False, cubic_warp=warp == "cubic", fallback=Fallback(share=0.0))
    ref = plain.synthesize(f0, f1, [0.25, 0.5])
    for a, b in zip(ours, ref, strict=True):
        assert a.shape == b.shape == (64, 90, 3)
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 1


def test_untrained_network_on_the_flow_base_is_flow(tmp_path: Path) -> None:
    """With `flow`'s fallback in the graph, zero heads reproduce `--model flow` (float-map warps:
    what the network sees), through the exported card and the engine; the gate then moves it."""
    from dataclasses import asdict

    net = FlowFusionNet(num_feat=8, num_conv=1, fallback=asdict(Fallback()))
    res = export_model(net, tmp_path / "zero", name="zero")
    assert res.card.arch["params"]["fallback"] == asdict(Fallback())
    synth = NetSynth(load_engine(res.folder, backend="ort"))
    f0, _, f1 = panning()
    # the panning frames' warps agree nearly everywhere: a bright square appears only in frame 1,
    # so the fallback has a disagreement to act on
    f1 = f1.copy()
    f1[20:44, 30:54] = 250
    ours = synth.synthesize(f0, f1, [0.25, 0.5])
    flow = FlowSynth(FlowOptions(), fixed_point_warp=False).synthesize(f0, f1, [0.25, 0.5])
    plain = FlowSynth(FlowOptions(), fixed_point_warp=False, fallback=Fallback(share=0.0)).synthesize(f0, f1, [0.5])
    # `flow` differs from the plain average here, and the network follows `flow` (within the
    # rounding of its lookup table and of the uint8 blur)
    assert np.abs(flow[1].astype(int) - plain[0].astype(int)).max() > 10
    for a, b in zip(ours, flow, strict=True):
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 3
        assert np.abs(a.astype(float) - b).mean() < 0.3
    assert np.abs(ours[1].astype(float) - plain[0]).mean() > 3 * np.abs(ours[1].astype(float) - flow[1]).mean()
    # a shut gate (2 sigmoid(-30) ~ 0) returns the plain average instead
    with torch.no_grad():
        net.gate_head.bias.fill_(-30.0)
    shut = NetSynth(load_engine(export_model(net, tmp_path / "shut", name="shut").folder, backend="ort"))
    assert np.abs(shut.synthesize(f0, f1, [0.5])[0].astype(int) - plain[0].astype(int)).max() <= 1


def test_card_names_the_flow_fed_inputs(exported: tuple[FlowFusionNet, Path]) -> None:
    card = ModelCard.load(exported[1])
    assert (card.task, card.window, card.limits.multiple_of) == ("interp", 2, 4)
    assert [s.name for s in card.inputs] == ["frame0", "frame1", "warped0", "warped1", "t", "flow_t0", "flow_t1"]
    # what the runtime computes
    assert card.arch["flow"] == {
        "preset": "ultrafast", "downscale": 1, "finest_scale": None, "refine_iters": None, "patch_stride": None,
        "descent_iters": None,
    }  # fmt: skip


def _steered(weight_logits: tuple[float, float, float], correction_px: float = 0.0) -> FlowFusionNet:
    """An untrained net whose heads are set by hand: fixed fusion weights, a fixed x correction of warp 0."""
    from ganstream.engines.archs.interp_fusion import MAX_CORRECTION

    net = FlowFusionNet(num_feat=8, num_conv=1)
    with torch.no_grad():
        net.weight_head.bias.copy_(torch.tensor(weight_logits))
        net.flow_head.bias[0] = float(np.arctanh(correction_px / MAX_CORRECTION))
    return net.eval()


def test_flow_correction_moves_warp_0_by_the_predicted_pixels() -> None:
    # A linear ramp: the first-order correction is exact there, so 1 px to the right must read
    # the value one column further on, away from the replicated edges.
    ramp = torch.linspace(0.1, 0.9, 48).view(1, 1, 1, 48).expand(1, 3, 32, 48).contiguous()
    other = torch.rand(1, 3, 32, 48)
    flow = torch.zeros(1, 2, 32, 48)
    net = _steered((30.0, -30.0, -30.0), correction_px=1.0)
    with torch.no_grad():
        y = net(other, other, ramp, other, torch.tensor([[0.5]]), flow, flow)
    step = float(ramp[0, 0, 0, 1] - ramp[0, 0, 0, 0])
    inner = (y - ramp)[..., 2:-2]
    assert torch.allclose(inner, torch.full_like(inner, step), atol=1e-5)


def test_cross_fade_candidate_is_the_unwarped_blend() -> None:
    f0, f1, w0, w1 = (torch.rand(1, 3, 16, 20) for _ in range(4))
    flow = torch.zeros(1, 2, 16, 20)
    net = _steered((-30.0, -30.0, 30.0))
    with torch.no_grad():
        y = net(f0, f1, w0, w1, torch.tensor([[0.25]]), flow, flow)
    assert torch.allclose(y, 0.75 * f0 + 0.25 * f1, atol=1e-5)


def test_net_synth_refuses_other_tasks() -> None:
    class FakeEngine:
        card = ModelCard(name="sr2x", task="sr", scale=2)

    with pytest.raises(StageError, match="interp model"):
        NetSynth(FakeEngine())


@pytest.mark.parametrize("factor", [2, 4])
def test_upsampling_by_phases_is_bilinear(factor: int) -> None:
    """The graph's upsampling (a fixed 3x3 convolution into factor^2 phases and a pixel shuffle,
    faster on OpenVINO) gives F.interpolate's bilinear values, edges included."""
    import torch.nn.functional as F

    net = FlowFusionNet(num_feat=8, num_conv=1, down=factor).eval()
    x = torch.rand(2, 1, 7, 11)
    want = F.interpolate(x, scale_factor=float(factor), mode="bilinear", align_corners=False)
    assert torch.allclose(net._up(x), want, atol=1e-6)
