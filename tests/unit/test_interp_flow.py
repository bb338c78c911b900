"""The classical flow path: DIS flow, Super SloMo intermediate flows, warping, FlowSynth."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from ganstream.engines.flow import FlowEstimator, FlowOptions, IntermediateFlows, Warper, intermediate_flows
from ganstream.stream.stages.interp_synth import FlowSynth
from ganstream.stream.stages.interpolate import BlendSynth
from ganstream.training.interp.metrics import psnr_y, ssim_y

H, W, SHIFT = 64, 96, 8


def panning(shift: int = SHIFT, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """frame0, the true middle, frame1 of a textured scene moving left by `shift` px per pair."""
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.normal(0, 1, (H, W + 2 * shift, 3)).astype(np.float32), (0, 0), 2.0)
    scene = np.clip(128 + 80 * noise / noise.std(), 0, 255).astype(np.uint8)
    return scene[:, :W].copy(), scene[:, shift // 2 : shift // 2 + W].copy(), scene[:, shift : shift + W].copy()


def interior(x: np.ndarray) -> np.ndarray:
    return x[:, SHIFT : W - SHIFT]  # columns that are visible in both frames


def test_dis_finds_a_global_shift_both_ways() -> None:
    f0, _, f1 = panning()
    f01, f10 = FlowEstimator(FlowOptions("medium")).bidirectional(f0, f1)
    assert f01.shape == (H, W, 2) and f01.dtype == np.float32
    # The scene moves left: what frame0 shows at x, frame1 shows at x - SHIFT.
    assert np.median(interior(f01)[..., 0]) == pytest.approx(-SHIFT, abs=0.5)
    assert np.median(interior(f10)[..., 0]) == pytest.approx(SHIFT, abs=0.5)
    assert abs(np.median(f01[..., 1])) < 0.5


def test_intermediate_flows_of_linear_motion() -> None:
    f01 = np.full((4, 4, 2), (6.0, -2.0), np.float32)
    ft0, ft1 = intermediate_flows(f01, -f01, 0.25)
    assert np.allclose(ft0, -0.25 * f01) and np.allclose(ft1, 0.75 * f01)


def test_backward_warp_moves_content_by_the_flow() -> None:
    img = np.zeros((8, 8, 3), np.uint8)
    img[3, 5] = 255
    flow = np.zeros((8, 8, 2), np.float32)
    flow[..., 0] = 2.0  # every output pixel reads 2 px to its right
    assert Warper().warp(img, flow)[3, 3, 0] == 255


def test_cubic_warp_keeps_detail_that_a_bilinear_half_pixel_shift_blurs() -> None:
    """A pattern of fine sinusoids sampled half a pixel apart: bicubic sampling rebuilds the
    shifted samples far closer than bilinear, whose half-pixel step is a [1/2, 1/2] blur."""
    ys, xs = np.mgrid[0:48, 0:64].astype(np.float64)

    def pattern(dx: float) -> np.ndarray:
        x = xs + dx
        v = 128 + 50 * np.sin(2.1 * x + 0.3 * ys) + 40 * np.cos(1.3 * x - 0.9 * ys) + 20 * np.sin(0.5 * ys)
        return np.repeat(np.clip(v, 0, 255).round().astype(np.uint8)[..., None], 3, axis=2)

    flow = np.zeros((48, 64, 2), np.float32)
    flow[..., 0] = 0.5
    truth = interior(pattern(0.5))
    for fixed_point in (False, True):
        linear = Warper(fixed_point=fixed_point).warp(pattern(0.0), flow)
        cubic = Warper(fixed_point=fixed_point, cubic=True).warp(pattern(0.0), flow)
        assert cubic.dtype == np.uint8
        p_linear, p_cubic = psnr_y(interior(linear), truth), psnr_y(interior(cubic), truth)
        assert p_cubic > p_linear + 3.0, (fixed_point, p_linear, p_cubic)
    step = np.zeros((8, 8, 3), np.uint8)
    step[:, 4:] = 255  # bicubic overshoots at a hard edge; uint8 output saturates instead of wrapping
    out = Warper(cubic=True).warp(step, np.full((8, 8, 2), 0.3, np.float32))
    assert out[:, :3].max() <= 10 and out[:, 5:].min() >= 245


def test_flow_synth_rebuilds_a_global_shift_far_better_than_blending() -> None:
    f0, mid, f1 = panning()
    (flow,) = FlowSynth().synthesize(f0, f1, [0.5])
    (blend,) = BlendSynth().synthesize(f0, f1, [0.5])
    p_flow, p_blend = psnr_y(interior(flow), interior(mid)), psnr_y(interior(blend), interior(mid))
    assert p_flow > p_blend + 6.0, (p_flow, p_blend)
    assert ssim_y(interior(flow), interior(mid)) > ssim_y(interior(blend), interior(mid))


def test_metrics_on_known_values() -> None:
    a = np.full((16, 16, 3), 100, np.uint8)
    assert psnr_y(a, a) == 100.0 and ssim_y(a, a) == pytest.approx(1.0)
    b = a.copy()
    b[..., :] = 110  # luma differs by 10 * (65.481 + 128.553 + 24.966) / 255 = 8.588
    assert psnr_y(a, b) == pytest.approx(20 * np.log10(255 / 8.588), abs=0.01)


def test_bad_flow_options() -> None:
    with pytest.raises(ValueError, match="preset"):
        FlowOptions("slowest")
    with pytest.raises(ValueError, match="downscale"):
        FlowOptions(downscale=3)


def test_flows_from_t_at_working_size_equal_the_full_size_combination() -> None:
    rng = np.random.default_rng(1)
    f01, f10 = (rng.normal(0, 3, (9, 13, 2)).astype(np.float32) for _ in range(2))
    pair = IntermediateFlows(f01, f10, 18, 39)  # 2x down vertically, 3x horizontally
    ft0, ft1 = pair.at(0.3)
    ref0, ref1 = intermediate_flows(pair.full_size(f01), pair.full_size(f10), 0.3)
    assert ft0.shape == (18, 39, 2) and ft0.dtype == np.float32
    assert np.allclose(ft0, ref0, atol=1e-4) and np.allclose(ft1, ref1, atol=1e-4)
    even = IntermediateFlows(f01, f10, 18, 26)  # 2x both ways: the scale folded into the mix
    e0, e1 = even.at(0.7)
    r0, r1 = intermediate_flows(even.full_size(f01), even.full_size(f10), 0.7)
    assert np.allclose(e0, r0, atol=1e-4) and np.allclose(e1, r1, atol=1e-4)
    up = pair.full_size(f01)  # each component scaled by its own factor
    assert np.allclose(up[..., 0], 3 * cv2.resize(f01, (39, 18))[..., 0], atol=1e-4)
    assert np.allclose(up[..., 1], 2 * cv2.resize(f01, (39, 18))[..., 1], atol=1e-4)


def test_fixed_point_warp_stays_within_a_grey_level_or_two_of_float() -> None:
    f0, _, f1 = panning()
    ft0, _ = FlowEstimator().working(f0, f1).at(0.5)
    exact, fast = Warper().warp(f0, ft0), Warper(fixed_point=True).warp(f0, ft0)
    diff = np.abs(exact.astype(int) - fast.astype(int))
    assert diff.max() <= 3 and diff.mean() < 0.5
    assert np.abs(Warper(fixed_point=True).warp(ft0, ft0) - Warper().warp(ft0, ft0)).max() == 0  # floats: exact path


def test_a_small_frame_does_not_change_the_flow_of_later_frames() -> None:
    """OpenCV's DIS lowers its own finest level for a frame too small for it and keeps it; the
    estimator sets its levels on every call, so a flow depends on its two frames only."""
    f0, _, f1 = panning()
    est = FlowEstimator(FlowOptions())
    before = est.bidirectional(f0, f1)
    tiny0, tiny1 = f0[:24, :30].copy(), f1[:24, :30].copy()
    est.bidirectional(tiny0, tiny1)
    after = est.bidirectional(f0, f1)
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))


def test_the_finest_level_is_an_option_and_flow_uses_level_one() -> None:
    from ganstream.stream.stages.interp_synth import CLASSICAL_FLOW, REFINED_FLOW

    assert CLASSICAL_FLOW.finest_scale == 1 and FlowSynth().flow.options == CLASSICAL_FLOW
    # `flow-refined`: half-size frames to level 0 (the same level), refined once per level
    assert (REFINED_FLOW.downscale, REFINED_FLOW.finest_scale, REFINED_FLOW.refine_iters) == (2, 0, 1)
    assert replace(REFINED_FLOW, downscale=1, finest_scale=1, refine_iters=None) == CLASSICAL_FLOW
    with pytest.raises(ValueError, match="finest_scale"):
        FlowOptions(finest_scale=5)
    f0, _, f1 = panning()
    coarse, fine = (FlowEstimator(FlowOptions(finest_scale=s)).bidirectional(f0, f1)[0] for s in (2, 1))
    assert not np.array_equal(coarse, fine)  # the option reaches DIS


def test_eval_flow_variants_parse_the_finest_level() -> None:
    from ganstream.training.errors import ConfigError
    from ganstream.training.interp.evaluate import flow_variant

    synth = flow_variant("flow:ultrafast:2:0")
    assert isinstance(synth, FlowSynth)
    assert (synth.flow.options.downscale, synth.flow.options.finest_scale) == (2, 0)
    plain = flow_variant("flow:medium:1:plain")
    assert isinstance(plain, FlowSynth) and plain.flow.options.finest_scale is None
    assert plain.fallback.share == 0.0
    refined = flow_variant("flow:ultrafast:1:1:vr2:plain")
    assert isinstance(refined, FlowSynth) and refined.fallback.share == 0.0
    assert (refined.flow.options.finest_scale, refined.flow.options.refine_iters) == (1, 2)
    tuned = flow_variant("flow:ultrafast:1:1:vr1:gd8:ps5")
    assert isinstance(tuned, FlowSynth)
    o = tuned.flow.options
    assert (o.refine_iters, o.descent_iters, o.patch_stride) == (1, 8, 5)
    bad_specs = ("flow:ultrafast:1:x", "flow:ultrafast:1:9", "flow:fast:1:1:vrx", "flow:fast:1:vr99", "flow:fast:1:ps9")
    for bad in (*bad_specs, "flow:ultrafast", "flow:fast:1:gd0", "flow:fast:1:vr1:vr2"):
        with pytest.raises(ConfigError):
            flow_variant(bad)


def test_variational_refinement_is_an_option_that_reaches_dis() -> None:
    with pytest.raises(ValueError, match="refine_iters"):
        FlowOptions(refine_iters=-1)
    with pytest.raises(ValueError, match="patch_stride"):
        FlowOptions(patch_stride=9)
    with pytest.raises(ValueError, match="descent_iters"):
        FlowOptions(descent_iters=0)
    f0, _, f1 = panning()
    bare, refined = (
        FlowEstimator(FlowOptions(finest_scale=1, refine_iters=n)).bidirectional(f0, f1)[0] for n in (None, 1)
    )
    assert not np.array_equal(bare, refined)  # ultrafast refines nothing by itself
    assert np.array_equal(bare, FlowEstimator(FlowOptions(finest_scale=1, refine_iters=0)).bidirectional(f0, f1)[0])
    for tuned in (FlowOptions(finest_scale=1, patch_stride=5), FlowOptions(finest_scale=1, descent_iters=4)):
        assert not np.array_equal(bare, FlowEstimator(tuned).bidirectional(f0, f1)[0])  # each reaches DIS
