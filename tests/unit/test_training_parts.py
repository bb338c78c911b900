"""Generator/discriminator shapes, seeded degradations, real H.264 round trips, losses, metrics."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ganstream.engines.archs import build_generator  # noqa: E402
from ganstream.training import losses  # noqa: E402
from ganstream.training.codec import h264_roundtrip  # noqa: E402
from ganstream.training.degrade import (  # noqa: E402
    RESTORE_DEGRADE,
    SR_DEGRADE,
    DegradeConfig,
    code_ground_truth,
    degrade_batch,
    disk_kernel,
    soften_ground_truth,
)
from ganstream.training.discriminator import UNetDiscriminatorSN  # noqa: E402
from ganstream.training.errors import ConfigError, DataError  # noqa: E402
from ganstream.training.metrics import flicker, psnr_y  # noqa: E402
from ganstream.training.presets import SR_PRESETS, generator_arch  # noqa: E402


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("preset", list(SR_PRESETS))
def test_sr_generator_shapes(scale: int, preset: str) -> None:
    g = build_generator(generator_arch("sr", preset, scale))
    with torch.no_grad():
        y = g(torch.rand(2, 3, 12, 20))  # whole 4x4 blocks: wide4's body sits behind a pixel-unshuffle by 4
    assert y.shape == (2, 3, 12 * scale, 20 * scale)


def test_sr_generator_starts_near_bicubic() -> None:
    """A fresh net is the bicubic skip plus a small residual (the small last layer)."""
    g = build_generator(generator_arch("sr", "tiny", 2))
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        base = torch.nn.functional.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False)
        assert (g(x) - base).abs().mean() < 0.05


def test_restore_generator_keeps_size_and_needs_even_frames() -> None:
    g = build_generator(generator_arch("restore", "tiny", 1))
    with torch.no_grad():
        assert g(torch.rand(1, 3, 12, 20)).shape == (1, 3, 12, 20)
        with pytest.raises(RuntimeError):
            g(torch.rand(1, 3, 13, 20))


def test_discriminator_judges_every_pixel() -> None:
    d = UNetDiscriminatorSN(num_feat=8)
    logits, feats = d(torch.rand(2, 3, 40, 24))
    assert logits.shape == (2, 1, 40, 24)
    assert len(feats) == 6


def test_unknown_preset_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="preset must be one of"):
        generator_arch("sr", "huge", 2)


def test_compressed_preset_is_for_sr_only_and_leans_on_h264() -> None:
    from ganstream.training.config import TrainConfig
    from ganstream.training.trainer import degrade_config

    chosen = degrade_config(TrainConfig(task="sr", degrade="compressed"))
    assert chosen.h264_prob > SR_DEGRADE.h264_prob and chosen.clean_prob > SR_DEGRADE.clean_prob
    tuned = degrade_config(TrainConfig(task="sr", degrade="compressed", h264_prob=0.8))
    assert tuned.h264_prob == 0.8 and tuned.clean_prob == chosen.clean_prob
    both = degrade_config(TrainConfig(task="sr", degrade="compressed", h264_prob=0.6, clean_prob=0.75))
    assert (both.h264_prob, both.clean_prob) == (0.6, 0.75) and both.h264_crf == chosen.h264_crf
    with pytest.raises(ConfigError, match="clean probability"):
        TrainConfig(task="sr", clean_prob=-0.1)
    with pytest.raises(ConfigError, match="h264 probability"):
        TrainConfig(task="sr", h264_prob=1.5)
    assert degrade_config(TrainConfig(task="sr", coded_gt_prob=0.4)).coded_gt_prob == 0.4
    assert degrade_config(TrainConfig(task="sr", soft_gt_prob=0.3)).soft_gt_prob == 0.3
    with pytest.raises(ConfigError, match="soft ground-truth probability"):
        TrainConfig(task="sr", soft_gt_prob=2.0)
    assert degrade_config(TrainConfig(task="sr", degrade="compressed", blur_prob=0.0)).blur_prob == 0.0
    with pytest.raises(ConfigError, match="blur probability"):
        TrainConfig(task="sr", blur_prob=-1.0)
    with pytest.raises(ConfigError, match="coded ground-truth probability"):
        TrainConfig(task="sr", coded_gt_prob=1.2)
    with pytest.raises(ConfigError, match="discriminator width"):
        TrainConfig(task="sr", stage="gan", init="runs/x", d_feat=2)
    with pytest.raises(ConfigError, match="sr only"):
        TrainConfig(task="restore", degrade="compressed")
    with pytest.raises(ConfigError, match="degrade must be"):
        TrainConfig(task="sr", degrade="blurry")


def test_h264_crf_range_reaches_the_degradation_and_survives_a_resume(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import argparse

    from ganstream.training.cli import _crf_range
    from ganstream.training.config import TrainConfig
    from ganstream.training.trainer import degrade_config

    preset = degrade_config(TrainConfig(task="sr", degrade="compressed"))
    cfg = TrainConfig(task="sr", degrade="compressed", h264_crf=[26, 34])
    chosen = degrade_config(cfg)
    assert chosen.h264_crf == (26.0, 34.0) != preset.h264_crf
    assert chosen.h264_prob == preset.h264_prob  # only the range changes
    cfg.save(tmp_path)  # a resumed run codes at the same range
    assert degrade_config(TrainConfig.load(tmp_path)).h264_crf == (26.0, 34.0)
    for bad in ([34.0, 26.0], [30.0], [-1.0, 30.0], [30.0, 52.0]):
        with pytest.raises(ConfigError, match="CRF range"):
            TrainConfig(task="sr", h264_crf=bad)
    assert _crf_range("26,34") == [26.0, 34.0] and _crf_range("30") == [30.0, 30.0]
    for bad_text in ("34,26", "a,b", "1,2,3", "60"):
        with pytest.raises(argparse.ArgumentTypeError):
            _crf_range(bad_text)


def _hr(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(3, 2, 32, 32, 3), dtype=np.uint8)


@pytest.mark.parametrize(("cfg", "scale"), [(SR_DEGRADE, 2), (RESTORE_DEGRADE, 1)])
def test_degradations_are_deterministic_under_a_seed(cfg: DegradeConfig, scale: int) -> None:
    cfg = DegradeConfig(**{**cfg.to_dict(), "h264_prob": 1.0, "clean_prob": 0.0})
    a = degrade_batch(_hr(), scale, cfg, np.random.default_rng(3))
    b = degrade_batch(_hr(), scale, cfg, np.random.default_rng(3))
    c = degrade_batch(_hr(), scale, cfg, np.random.default_rng(4))
    assert a.shape == (3, 2, 32 // scale, 32 // scale, 3)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_pair_frames_share_the_recipe_but_not_the_noise() -> None:
    hr = np.full((1, 2, 32, 32, 3), 128, dtype=np.uint8)
    cfg = DegradeConfig(clean_prob=0.0, blur_prob=0.0, noise_prob=1.0, poisson_prob=0.0, jpeg_prob=0.0, h264_prob=0.0,
                        resize_range=(1.0, 1.0), second_order_prob=0.0, gauss_sigma=(10.0, 10.0))  # fmt: skip
    lr = degrade_batch(hr, 1, cfg, np.random.default_rng(0)).astype(float)
    assert 7 < lr[0, 0].std() < 13 and 7 < lr[0, 1].std() < 13
    assert not np.array_equal(lr[0, 0], lr[0, 1])


def test_coded_ground_truth_keeps_older_batches_and_codes_both_frames_alike() -> None:
    from ganstream.engines.input_choice import grid_aligned_zeros

    rng = np.random.default_rng(5)
    smooth = cv2.GaussianBlur(rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8), (0, 0), 1.5)
    hr = np.stack([np.stack([smooth, smooth])] * 3)
    untouched = np.random.default_rng(1)
    assert code_ground_truth(hr, SR_DEGRADE, untouched) is hr  # probability 0: no draw, same batches
    assert untouched.random() == np.random.default_rng(1).random()
    coded = code_ground_truth(hr, DegradeConfig(coded_gt_prob=1.0, coded_gt_quality=(40, 40)), np.random.default_rng(0))
    assert coded.shape == hr.shape and coded.dtype == np.uint8
    assert np.array_equal(coded[0, 0], coded[0, 1])  # one quality per sample
    assert 30 < psnr_y(coded[0, 0], hr[0, 0]) < 50  # really coded, still the picture
    # the coder's trace sits on the 8-px grid of the full-size frame
    assert grid_aligned_zeros(coded[0, 0]) > grid_aligned_zeros(hr[0, 0]) + 0.02
    assert np.array_equal(hr[0, 0], smooth)  # the input batch is not changed in place


def test_soft_ground_truth_defocuses_whole_samples_and_keeps_older_batches() -> None:
    rng = np.random.default_rng(2)
    sharp = rng.integers(0, 256, size=(4, 2, 32, 32, 3), dtype=np.uint8)
    untouched = np.random.default_rng(1)
    assert soften_ground_truth(sharp, SR_DEGRADE, untouched) is sharp  # probability 0: no draw
    assert untouched.random() == np.random.default_rng(1).random()
    soft = soften_ground_truth(sharp, DegradeConfig(soft_gt_prob=1.0), np.random.default_rng(0))
    assert soft.shape == sharp.shape and soft.dtype == np.uint8
    for a, b in zip(sharp.reshape(-1, 32, 32, 3), soft.reshape(-1, 32, 32, 3), strict=True):
        assert np.abs(np.diff(b.astype(float), axis=1)).mean() < 0.6 * np.abs(np.diff(a.astype(float), axis=1)).mean()
    assert abs(soft.astype(float).mean() - sharp.astype(float).mean()) < 1.0  # brightness kept
    k = disk_kernel(2.0)
    assert k.shape == (5, 5) and abs(float(k.sum()) - 1.0) < 1e-6 and k[2, 2] > 0 and k[0, 0] == 0


def test_h264_roundtrip_is_real_lossy_and_repeatable() -> None:
    rng = np.random.default_rng(0)
    frames = np.repeat(rng.integers(0, 256, size=(1, 32, 48, 3), dtype=np.uint8), 3, axis=0)
    a = h264_roundtrip(frames, crf=35)
    assert a.shape == frames.shape and a.dtype == np.uint8
    assert psnr_y(a[0], frames[0]) < 40  # noise does not survive a low bitrate
    assert np.array_equal(a, h264_roundtrip(frames, crf=35))
    with pytest.raises(DataError, match="must be even"):
        h264_roundtrip(frames[:, :31], crf=30)


def test_pixel_losses_and_their_names() -> None:
    from ganstream.training.config import TrainConfig

    x, y = torch.zeros(1, 3, 4, 4), torch.full((1, 3, 4, 4), 0.1)
    assert losses.pixel_loss(x, y, "l1").item() == pytest.approx(0.1)
    assert losses.pixel_loss(x, y, "mse").item() == pytest.approx(0.01)  # the mean error squared: PSNR's
    assert losses.pixel_loss(x, y, "charbonnier").item() == pytest.approx(0.1, abs=1e-4)
    with pytest.raises(ValueError, match="pixel loss"):
        losses.pixel_loss(x, y, "l2")
    with pytest.raises(ConfigError, match="pixel loss"):
        TrainConfig(pixel="l2")


def test_temporal_loss_is_zero_when_outputs_follow_the_ground_truth() -> None:
    gt0, gt1 = torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8)
    assert float(losses.temporal_loss(gt0 + 0.1, gt1 + 0.1, gt0, gt1)) < 1e-6
    assert float(losses.temporal_loss(gt0, gt0, gt0, gt1)) > 0.1


@pytest.mark.parametrize("kind", losses.ADV_KINDS)
def test_adversarial_losses_reward_the_right_side(kind: str) -> None:
    real, fake = torch.full((4, 1), 3.0), torch.full((4, 1), -3.0)
    assert float(losses.discriminator_loss(real, fake, kind)) < float(losses.discriminator_loss(fake, real, kind))
    assert float(losses.generator_adv_loss(fake, real, kind)) > float(losses.generator_adv_loss(real, fake, kind))


def test_flicker_counts_only_change_not_in_the_ground_truth() -> None:
    gt = np.random.default_rng(1).integers(0, 200, size=(3, 8, 8, 3), dtype=np.uint8)
    assert flicker(gt + 10, gt) < 1e-9
    jitter = gt.copy()
    jitter[1] += 20
    assert flicker(jitter, gt) > 5


def test_coded_validation_inputs_are_exact_downscales_at_any_scale() -> None:
    """The H.264 validation pairs each input with the top-left of its crop: at x3 a 44-px crop
    gives a 14-px input made from the crop's first 42 px, not a resize of all 44."""
    from ganstream.training.trainer import coded_validation_inputs

    hr = np.random.default_rng(0).integers(0, 256, (44, 44, 3), dtype=np.uint8)
    (lr,) = coded_validation_inputs([hr], 3)
    want = h264_roundtrip(cv2.resize(hr[:42, :42], (14, 14), interpolation=cv2.INTER_AREA)[None], crf=30)[0]
    assert lr.shape == (14, 14, 3) and np.array_equal(lr, want)


def test_coded_clip_validation_scores_the_last_frame_of_each_coded_clip() -> None:
    """Each clip is coded as one stream and its last (predicted) frame is the input, paired with the
    top-left of its own ground truth; a clip of one frame has no predicted frame and is left out."""
    from ganstream.training.dataset import Pool, validation_clip_crops
    from ganstream.training.trainer import coded_clip_validation

    rng = np.random.default_rng(5)
    base = cv2.GaussianBlur(rng.integers(0, 256, (60, 70, 3), dtype=np.uint8), (0, 0), 1.5)
    run = [np.ascontiguousarray(np.roll(base, k, axis=1)) for k in range(8)]
    clips = validation_clip_crops(Pool([], [run, run[:1]], []), 44, frames=6)
    assert [len(c) for c in clips] == [6, 1] and clips[0][0].shape == (44, 44, 3)
    ((lr, hr),) = coded_clip_validation(clips, 3)
    low = np.stack([cv2.resize(c[:42, :42], (14, 14), interpolation=cv2.INTER_AREA) for c in clips[0]])
    assert np.array_equal(lr, h264_roundtrip(low, crf=30)[-1]) and np.array_equal(hr, clips[0][-1][:42, :42])
    assert not np.array_equal(lr, h264_roundtrip(low[-1:], crf=30)[0])  # predicted, not an intra frame
    runs = [[np.full((8, 8, 3), k, np.uint8)] * 2 for k in range(4)]  # clips a and b, two runs each
    spread = validation_clip_crops(Pool([], runs, ["a#0", "a#1", "b#0", "b#1"]), 8, limit=2)
    assert [c[0][0, 0, 0] for c in spread] == [0, 2]  # each clip's first run before any second one


def test_coded_frame_gain_scores_each_frame_type_against_bicubic() -> None:
    from ganstream.training.coded_frame_gain import KINDS, frame_type_scores, mse_of, summary

    rng = np.random.default_rng(3)
    base = cv2.GaussianBlur(rng.integers(0, 256, (80, 104, 3), dtype=np.uint8), (0, 0), 2.0)
    clip = [np.ascontiguousarray(np.roll(base, k, axis=1)) for k in range(4)]  # a slow pan

    def bicubic(x: np.ndarray) -> np.ndarray:
        return np.asarray(cv2.resize(x, (x.shape[1] * 2, x.shape[0] * 2), interpolation=cv2.INTER_CUBIC))

    same = frame_type_scores(bicubic, clip)
    assert [len(same[k]) for k in KINDS] == [1, 3, 4]  # one intra frame, three predicted, four alone
    assert all(summary(same[k])[0::2] == (0.0, 0.0) and summary(same[k])[1] > 0 for k in KINDS)
    blurred = frame_type_scores(lambda x: cv2.GaussianBlur(bicubic(x), (0, 0), 1.5), clip)
    assert all(ours < base for k in KINDS for base, ours in blurred[k])
    assert all(summary(blurred[k])[2] < 0 for k in KINDS)  # blurring adds error
    assert mse_of(20.0 * np.log10(255.0 / 10.0)) == pytest.approx(100.0)  # 10 levels off everywhere


def test_coded_frame_gain_self_ensemble_undoes_each_transform() -> None:
    from ganstream.training.coded_frame_gain import self_ensemble

    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, (6, 10, 3), dtype=np.uint8)

    def nearest(img: np.ndarray) -> np.ndarray:  # an upscaler that commutes with flips and turns
        return np.repeat(np.repeat(img, 2, axis=0), 2, axis=1)

    for count in (1, 2, 4, 8):
        assert np.array_equal(self_ensemble(nearest, count)(x), nearest(x))
    # a model that is not symmetric: the mean of the transformed outputs, rounded
    shifted = self_ensemble(lambda img: nearest(np.roll(img, 1, axis=1)), 2)(x)
    assert shifted.shape == (12, 20, 3) and not np.array_equal(shifted, nearest(x))
