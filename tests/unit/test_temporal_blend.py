"""The temporal filter (engines/temporal_blend.py): a running average along the flow, and its place
before restore models in the stages and the eval."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ganstream.engines import load_engine
from ganstream.engines.flow import FlowEstimator
from ganstream.engines.temporal_blend import BlendOptions, TemporalBlend
from ganstream.stream.batching import SerialEngine, SharedEnhanceStage
from ganstream.stream.frame import Frame, VideoSpec
from ganstream.stream.stages.enhance import EnhanceStage
from ganstream.stream.stages.recurrent_state import StreamBlend
from ganstream.training.evaluate import BlendRunner, RecurrentRunner, scored_runners
from tests.unit.tiny_recurrent import export_tiny_vrestore, smooth_scene


def _frame(pixels: np.ndarray, seq: int, **meta: object) -> Frame:
    return Frame(pixels, pts=seq * 40_000_000, duration=40_000_000, seq=seq, meta=dict(meta))


def _with_residue(truth: np.ndarray, rng: np.random.Generator, sigma: float = 2.0) -> np.ndarray:
    """What a restore model leaves: the truth plus a little noise, independent per frame."""
    return np.clip(truth + rng.normal(0, sigma, truth.shape), 0, 255).astype(np.uint8)


def _noisy(truth: np.ndarray, rng: np.random.Generator, sigma: float = 15.0) -> np.ndarray:
    """The camera's frame the model restored."""
    return np.clip(truth + rng.normal(0, sigma, truth.shape), 0, 255).astype(np.uint8)


def _err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64))[6:-6, 6:-6].mean())


def test_a_static_scene_averages_the_residual_noise_away() -> None:
    rng = np.random.default_rng(0)
    truth = smooth_scene(10, 96, 128)
    blend = TemporalBlend()
    outs = [_with_residue(truth, rng) for _ in range(8)]
    got = [blend.apply(_noisy(truth, rng), o) for o in outs]
    assert np.array_equal(got[0], outs[0])  # nothing to blend with yet
    # a running average holding up to 3 frames keeps a quarter of each new output: the residue's
    # error falls to about 0.4 of it with exact flow (DIS on noisy frames jitters)
    assert _err(got[-1], truth) < 0.55 * _err(outs[-1], truth), (_err(got[-1], truth), _err(outs[-1], truth))
    assert blend.steps == 7 and blend.held > 3.8
    assert 13 < blend.sigma < 17 and 4.3 < blend.threshold <= 5.7


def test_clean_or_compressed_input_passes_almost_unchanged() -> None:
    """No noise in the input: nothing for the average to remove (coding artifacts repeat)."""
    rng = np.random.default_rng(3)
    truth = smooth_scene(10, 96, 128)
    blend = TemporalBlend()
    outs = [_with_residue(truth, rng, 0.3) for _ in range(4)]
    got = [blend.apply(truth, o) for o in outs]
    assert blend.sigma < 1.0 and blend.threshold < 0.4
    assert all(np.array_equal(g, o) for g, o in zip(got, outs, strict=True)) and blend.steps == 0
    tiny = TemporalBlend()  # smaller than DIS takes: passed through
    for _ in range(3):
        frame = _noisy(np.full((8, 8, 3), 100, np.uint8), rng)
        assert np.array_equal(tiny.apply(frame, frame), frame)


def test_the_average_follows_a_pan_along_the_flow() -> None:
    rng = np.random.default_rng(1)
    # gentle gradients, as in footage: each warp resamples the average, which blurs steep ones
    wide = (smooth_scene(11, 96, 192) * 0.3 + 90).astype(np.uint8)
    views = [np.ascontiguousarray(wide[:, 3 * i : 3 * i + 128]) for i in range(6)]  # 3 px per frame
    blend = TemporalBlend()
    outs = [_with_residue(v, rng) for v in views]
    got = [blend.apply(_noisy(v, rng), o) for v, o in zip(views, outs, strict=True)]
    inner = (slice(6, -6), slice(6, -20))  # away from the edge that enters the frame
    err_out = np.abs(outs[-1].astype(int) - views[-1])[inner].mean()
    err_blend = np.abs(got[-1].astype(int) - views[-1])[inner].mean()
    assert err_blend < 0.75 * err_out, (err_blend, err_out)


def test_a_moving_object_does_not_ghost() -> None:
    """Where the scene changed (an object left), the output is the current frame's, not the average."""
    background = smooth_scene(12, 96, 128)
    blend = TemporalBlend()
    rng = np.random.default_rng(4)
    for _ in range(4):
        with_object = background.copy()
        with_object[30:60, 40:70] = (250, 20, 20)
        blend.apply(_noisy(with_object, rng), with_object)
    out = blend.apply(_noisy(background, rng), background)  # the object is gone
    assert int(np.abs(out.astype(int) - background)[30:60, 40:70].max()) <= 2


def test_a_given_flow_is_the_one_it_would_compute() -> None:
    rng = np.random.default_rng(2)
    wide = smooth_scene(13, 64, 128)
    views = [np.ascontiguousarray(wide[:, 2 * i : 2 * i + 96]) for i in range(3)]
    outs = [_with_residue(v, rng) for v in views]
    own, given = TemporalBlend(), TemporalBlend()
    flow = FlowEstimator()
    inputs = [_noisy(v, rng) for v in views]
    for i, (v, o) in enumerate(zip(inputs, outs, strict=True)):
        a = own.apply(v, o)
        f = None if i == 0 else flow.calc(flow.grey(v), flow.grey(inputs[i - 1]))
        b = given.apply(v, o, f)
        assert np.array_equal(a, b)


def test_bad_options_are_refused() -> None:
    for bad in ({"threshold": 0.0}, {"cap": 0.5}, {"smooth": -1.0}, {"per_sigma": 0.0}, {"every": 0}):
        with pytest.raises(ValueError, match="BlendOptions"):
            BlendOptions(**bad)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def tiny_restore(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_tiny_vrestore(tmp_path_factory.mktemp("models"), "vrestore-tiny")


def test_the_stage_filters_the_input_before_the_model_and_restarts_at_a_cut(tiny_restore: Path) -> None:
    engine = load_engine(tiny_restore, backend="ort")
    blended = EnhanceStage(engine, residual_gain=False)
    plain = EnhanceStage(load_engine(tiny_restore, backend="ort"), residual_gain=False, temporal_blend=False)
    assert blended.blend is not None and plain.blend is None
    for s in (blended, plain):
        s.configure(VideoSpec(64, 48))
    rng = np.random.default_rng(5)
    a, b = smooth_scene(14), smooth_scene(15)
    frames = [_noisy(a, rng), _noisy(a, rng), _noisy(a, rng), _noisy(b, rng)]
    got = [blended.process(_frame(p, i))[0].pixels for i, p in enumerate(frames)]
    ref = [plain.process(_frame(p, i))[0].pixels for i, p in enumerate(frames)]
    assert np.array_equal(got[0], ref[0])  # first frame: nothing to average with
    assert not np.array_equal(got[2], ref[2])
    assert np.array_equal(got[3], ref[3])  # a scene cut: the filter and the memory restart
    assert "temporal filter" in blended.summary_line() and "resets: 1 scene cut" in blended.summary_line()
    # what the model saw: the same filter run on its own gives the frames it was fed
    own = StreamBlend()
    fed = [own.filter(_frame(p, i)).pixels for i, p in enumerate(frames)]
    assert not np.array_equal(fed[2], frames[2]) and np.array_equal(fed[3], frames[3])
    assert _err(fed[2], a) < 0.8 * _err(frames[2], a)  # less noise reaches the model


def test_the_memory_reuses_the_filters_flow_and_the_eval_runs_as_the_stage(tiny_restore: Path) -> None:
    """One DIS flow per frame: the recurrent memory takes the filter's (computed on the raw frames,
    as the model was trained); and `ganstream eval` scores exactly what the stage outputs."""
    engine = load_engine(tiny_restore, backend="ort")
    stage = EnhanceStage(engine, residual_gain=False)
    stage.configure(VideoSpec(64, 48))
    assert stage.memory is not None and stage.blend is not None
    own_calls = []
    calc = stage.memory.recurrence._flow.calc
    stage.memory.recurrence._flow.calc = lambda *a: own_calls.append(1) or calc(*a)  # type: ignore[method-assign]
    rng = np.random.default_rng(8)
    wide = smooth_scene(21, 48, 96)
    frames = [_noisy(np.ascontiguousarray(wide[:, 2 * i : 2 * i + 64]), rng) for i in range(5)]
    got = np.stack([stage.process(_frame(p, i))[0].pixels for i, p in enumerate(frames)])
    assert stage.memory.recurrence.steps == 4 and not own_calls
    runs = scored_runners(engine.card, RecurrentRunner(load_engine(tiny_restore, backend="ort")), "off", "auto")
    assert np.array_equal(runs[engine.card.name](np.stack(frames)), got)


def test_the_filter_keeps_its_own_reset_rules() -> None:
    rng = np.random.default_rng(7)
    blend = StreamBlend()
    a, b = smooth_scene(19, 64, 96), smooth_scene(20, 64, 96)
    seq = 0
    for pixels, jump, meta in ((a, 1, {}), (a, 1, {}), (b, 1, {}), (b, 1, {"discont": True}), (b, 5, {})):
        seq += jump
        out = blend.filter(_frame(_noisy(pixels, rng), seq, **meta))
    assert out.seq == seq and blend.blend.steps == 1  # only the second frame continued a stream
    assert "1 gap, 1 reconnect, 1 scene cut" in blend.summary()


def test_serve_stages_blend_each_camera_on_its_own(tiny_restore: Path) -> None:
    engine = SerialEngine(load_engine(tiny_restore, backend="ort"))
    rng = np.random.default_rng(6)
    scenes = {"cam1": smooth_scene(16), "cam2": smooth_scene(17)}
    stages = {c: SharedEnhanceStage(engine, c, fps=25.0) for c in scenes}
    for i in range(3):
        for c, s in stages.items():
            s.process(_frame(_noisy(scenes[c], rng), i))
    for s in stages.values():
        assert s.blend is not None and s.blend.blend.steps == 2


def test_eval_scores_restore_models_with_and_without_the_blend(tiny_restore: Path) -> None:
    engine = load_engine(tiny_restore, backend="ort")

    def run(x: np.ndarray) -> np.ndarray:
        return np.asarray(engine.infer(x, x), dtype=np.uint8)

    card = engine.card
    runs = scored_runners(card, run, "off", "both")
    assert set(runs) == {card.name, f"{card.name} (no blend)"} and isinstance(runs[card.name], BlendRunner)
    assert set(scored_runners(card, run, "off", "off")) == {card.name}
    frames = np.stack([smooth_scene(18)] * 3)
    assert runs[card.name](frames).shape == frames.shape


def test_still_pixels_are_not_resampled() -> None:
    """Sub-pixel flow on a still scene (DIS on noise) is taken as none: the average is not blurred."""
    rng = np.random.default_rng(5)
    truth = smooth_scene(11, 96, 128)
    jitter = np.full((96, 128, 2), 0.4, np.float32)  # what DIS reports on noisy frames of a still scene
    errors = {}
    for static_px in (0.0, 1.0):
        blend = TemporalBlend(BlendOptions(static_px=static_px))
        outs = [_with_residue(truth, rng) for _ in range(8)]
        got = [blend.apply(_noisy(truth, rng), o, flow=jitter) for o in outs]
        errors[static_px] = _err(got[-1], truth)
    # Measured: 1.82 levels of error with the 0.4 px warps (the average drifts off the scene and
    # blurs), 0.79 with them taken as none.
    assert errors[1.0] < 0.6 * errors[0.0], errors


def test_the_gate_ramps_around_the_threshold() -> None:
    """Full weight well under the threshold, none well over it, linear between; soft=0: a step."""
    from ganstream.engines.temporal_blend import _agreement

    d = np.array([0.0, 2.5, 4.0, 5.0, 6.0, 7.5, 9.0], np.float32)
    np.testing.assert_allclose(_agreement(d, 5.0, 0.5), [1, 1, 0.7, 0.5, 0.3, 0, 0], atol=1e-6)
    np.testing.assert_array_equal(_agreement(d, 5.0, 0.0), [1, 1, 1, 0, 0, 0, 0])
    with pytest.raises(ValueError, match="soft"):
        BlendOptions(soft=1.0)


def _reference_step(
    acc: np.ndarray, count: np.ndarray, out: np.ndarray, flow: np.ndarray, threshold: float, o: BlendOptions
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One step of the module docstring's update in plain numpy (slow, obvious) for the check below."""
    import cv2

    from ganstream.engines.flow import Warper

    still = (np.abs(flow[..., 0]) < o.static_px) & (np.abs(flow[..., 1]) < o.static_px)
    f = np.where(still[..., None], np.float32(0.0), flow).astype(np.float32)
    warper = Warper()
    acc_w, count_w = warper.warp(acc, f), warper.warp(count, f)
    current = out.astype(np.float32)
    step = acc_w - current
    disagreement = np.abs(cv2.GaussianBlur(step, (0, 0), o.smooth)).mean(axis=2)
    ramp = (threshold * (1 + o.soft) - disagreement) / (2 * o.soft * threshold)
    k = np.minimum(count_w, o.cap) * np.clip(ramp, 0, 1)
    new_acc = current + (k / (1 + k))[..., None] * step
    return new_acc, 1 + k, np.clip(new_acc + 0.5, 0, 255).astype(np.uint8)


def test_the_filter_computes_its_documented_update() -> None:
    """The OpenCV passes of `apply` are the docstring's update: checked against plain numpy, with a
    flow that is still, moving, and exactly at the still limit (which counts as moving)."""
    rng = np.random.default_rng(9)
    truth = smooth_scene(17, 48, 64)
    o = BlendOptions()
    blend = TemporalBlend(o)
    flow = rng.uniform(-3, 3, (48, 64, 2)).astype(np.float32)
    flow[:16] = rng.uniform(-0.9, 0.9, (16, 64, 2))  # still rows
    flow[16:20, :, 0] = o.static_px  # exactly at the limit: moving
    given = flow.copy()
    first = _noisy(truth, rng)
    blend.apply(first, first)
    acc, count = first.astype(np.float32), np.ones((48, 64), np.float32)
    for _ in range(4):
        frame = _noisy(truth, rng)
        got = blend.apply(frame, frame, flow=given)
        acc, count, want = _reference_step(acc, count, frame, flow, blend.threshold, o)
        assert np.abs(got.astype(np.int16) - want).max() <= 1 and np.mean(got != want) < 1e-3
        np.testing.assert_allclose(blend._count, count, rtol=1e-5)
    assert np.array_equal(given, flow)  # the caller's flow is left as it was
