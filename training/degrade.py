"""Seeded degradations that match real footage (the second-order pipeline of Real-ESRGAN).

A ground-truth pair of consecutive frames goes through two rounds of blur (isotropic or
anisotropic Gaussian), resize with a random kernel, noise (Gaussian, or Poisson for low
light, always clipped to [0, 255] as a sensor does) and JPEG, each round in a random order;
then the final resize to the low-resolution size and, batch-wide, real H.264 at a low bitrate.
Both frames of a pair share every parameter but get their own noise, so the temporal loss sees
the flicker a network would add. Everything is drawn from one ``numpy.random.Generator``: the
same seed gives the same pixels.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from ganstream.training.codec import h264_roundtrip
from ganstream.training.errors import ConfigError

Image = npt.NDArray[np.uint8]
_INTERP = (cv2.INTER_AREA, cv2.INTER_LINEAR, cv2.INTER_CUBIC)


@dataclass(frozen=True)
class DegradeConfig:
    """Probabilities and ranges; `clean_prob` samples get only a random downscale kernel."""

    clean_prob: float = 0.3
    second_order_prob: float = 0.5
    blur_prob: float = 0.6
    blur_sigma: tuple[float, float] = (0.2, 1.5)
    aniso_prob: float = 0.4
    resize_range: tuple[float, float] = (0.75, 1.25)  # intermediate resize, relative
    noise_prob: float = 0.5
    gauss_sigma: tuple[float, float] = (1.0, 10.0)  # in uint8 levels
    gray_noise_prob: float = 0.3
    poisson_prob: float = 0.3  # of the noisy samples
    poisson_peak: tuple[float, float] = (20.0, 200.0)  # photons at white: lower is darker/noisier
    jpeg_prob: float = 0.4
    jpeg_quality: tuple[int, int] = (35, 95)
    h264_prob: float = 0.3  # per batch, on the final low-resolution frames
    h264_crf: tuple[float, float] = (26.0, 38.0)
    # Ground truth that is itself a decoded picture (as most real footage is): per sample, the
    # ground-truth frames are JPEG-coded before anything else, so the network learns that the
    # traces of a coder at the full size belong to the picture and are not to be smoothed away.
    coded_gt_prob: float = 0.0
    coded_gt_quality: tuple[int, int] = (30, 90)
    # Soft ground truth (a close-up's out-of-focus background, a plain wall): per sample, the
    # ground-truth frames are defocused by a disk of this radius (full-size px) first, so soft
    # input is seen with a soft target as well as (through the blur rounds) with a sharp one.
    soft_gt_prob: float = 0.0
    soft_gt_radius: tuple[float, float] = (1.0, 3.0)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


# Presets per task. SR keeps noise light so clean input is not over-smoothed; restore is all about noise.
SR_DEGRADE = DegradeConfig()
# The surveillance case (`--degrade compressed`, a fine-tuning preset): half the samples are a
# plain downscale and half the batches go through real H.264 at a low bitrate, so the network
# learns to take blocking out while it upscales without forgetting clean input. (Putting 70% of
# batches through H.264 on top of the default blur/noise gained +0.2 dB on H.264 but lost 0.9 dB
# on clean frames.)
SR_COMPRESSED_DEGRADE = replace(SR_DEGRADE, clean_prob=0.5, h264_prob=0.5, h264_crf=(28.0, 38.0))
RESTORE_DEGRADE = DegradeConfig(
    clean_prob=0.05,
    blur_prob=0.15,
    blur_sigma=(0.2, 0.8),
    resize_range=(1.0, 1.0),
    noise_prob=0.85,
    gauss_sigma=(2.0, 30.0),
    poisson_prob=0.3,
    jpeg_prob=0.35,
    jpeg_quality=(25, 90),
    h264_prob=0.4,
    h264_crf=(24.0, 40.0),
)


DEGRADE_PRESETS = ("default", "clean", "compressed")


def degrade_preset(name: str, task: str) -> DegradeConfig:
    """The named mix for `task` ("sr" or "restore"): "clean" is a downscale only (no blur, noise or codec)."""
    if name == "clean":
        return DegradeConfig(clean_prob=1.0, h264_prob=0.0)
    if name == "compressed" and task == "sr":
        return SR_COMPRESSED_DEGRADE
    if name != "default":
        raise ConfigError(f"degrade must be default, clean or (sr only) compressed, got {name!r}")
    return RESTORE_DEGRADE if task == "restore" else SR_DEGRADE


@dataclass
class Recipe:
    """The random draws for one pair, so both frames get the same degradation."""

    ops: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    final_interp: int = cv2.INTER_AREA


def gaussian_kernel(sigma_x: float, sigma_y: float, theta: float, size: int = 0) -> npt.NDArray[np.float32]:
    """A normalised (an)isotropic 2-D Gaussian, rotated by `theta` radians."""
    if size <= 0:
        size = 2 * math.ceil(3 * max(sigma_x, sigma_y)) + 1
    r = size // 2
    y, x = np.mgrid[-r : r + 1, -r : r + 1].astype(np.float64)
    c, s = math.cos(theta), math.sin(theta)
    u, v = c * x + s * y, -s * x + c * y
    k = np.exp(-0.5 * ((u / sigma_x) ** 2 + (v / sigma_y) ** 2))
    return (k / k.sum()).astype(np.float32)


def _draw_round(cfg: DegradeConfig, rng: np.random.Generator) -> list[tuple[str, dict[str, Any]]]:
    ops: list[tuple[str, dict[str, Any]]] = []
    if rng.random() < cfg.blur_prob:
        sx = float(rng.uniform(*cfg.blur_sigma))
        sy = float(rng.uniform(*cfg.blur_sigma)) if rng.random() < cfg.aniso_prob else sx
        ops.append(("blur", {"kernel": gaussian_kernel(sx, sy, float(rng.uniform(0, math.pi)))}))
    lo, hi = cfg.resize_range
    if hi > lo:
        ops.append(("resize", {"factor": float(rng.uniform(lo, hi)), "interp": int(rng.choice(_INTERP))}))
    if rng.random() < cfg.noise_prob:
        if rng.random() < cfg.poisson_prob:
            ops.append(
                (
                    "poisson",
                    {
                        "peak": float(np.exp(rng.uniform(*np.log(cfg.poisson_peak)))),
                        "gray": bool(rng.random() < cfg.gray_noise_prob),
                    },
                )
            )
        else:
            ops.append(
                (
                    "gauss",
                    {"sigma": float(rng.uniform(*cfg.gauss_sigma)), "gray": bool(rng.random() < cfg.gray_noise_prob)},
                )
            )
    if rng.random() < cfg.jpeg_prob:
        ops.append(("jpeg", {"quality": int(rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1))}))
    order = rng.permutation(len(ops))
    return [ops[i] for i in order]


def draw_recipe(cfg: DegradeConfig, rng: np.random.Generator) -> Recipe:
    recipe = Recipe(final_interp=int(rng.choice(_INTERP)))
    if rng.random() < cfg.clean_prob:
        return recipe
    recipe.ops = _draw_round(cfg, rng)
    if rng.random() < cfg.second_order_prob:
        recipe.ops += _draw_round(cfg, rng)
    return recipe


def _apply(
    img: npt.NDArray[np.float32], op: str, p: dict[str, Any], rng: np.random.Generator
) -> npt.NDArray[np.float32]:
    if op == "blur":
        return np.asarray(cv2.filter2D(img, -1, p["kernel"], borderType=cv2.BORDER_REFLECT_101), dtype=np.float32)
    if op == "resize":
        h, w = img.shape[:2]
        size = (max(8, round(w * p["factor"])), max(8, round(h * p["factor"])))
        return np.asarray(cv2.resize(img, size, interpolation=p["interp"]), dtype=np.float32)
    if op == "gauss":
        shape = (*img.shape[:2], 1) if p["gray"] else img.shape
        return np.clip(img + rng.normal(0.0, p["sigma"], size=shape).astype(np.float32), 0, 255)
    if op == "poisson":
        peak = p["peak"]
        src = img.mean(axis=2, keepdims=True) if p["gray"] else img
        noisy = rng.poisson(np.clip(src, 0, 255) / 255.0 * peak).astype(np.float32) / peak * 255.0
        return np.clip(img + (noisy - src), 0, 255)
    if op == "jpeg":
        u8 = np.clip(img + 0.5, 0, 255).astype(np.uint8)
        _, buf = cv2.imencode(".jpg", u8[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, p["quality"]])
        decoded = np.asarray(cv2.imdecode(buf, cv2.IMREAD_COLOR), dtype=np.uint8)
        return np.asarray(decoded[..., ::-1], dtype=np.float32)
    raise ValueError(f"degrade: unknown operation {op!r}")


def apply_recipe(hr: Image, recipe: Recipe, out_hw: tuple[int, int], rng: np.random.Generator) -> Image:
    """Degrade one RGB uint8 frame and resize it to `out_hw` (height, width)."""
    img = hr.astype(np.float32)
    for op, p in recipe.ops:
        img = _apply(img, op, p, rng)
    h, w = img.shape[:2]
    if (h, w) != out_hw:
        interp = recipe.final_interp
        if interp == cv2.INTER_AREA and (out_hw[0] > h or out_hw[1] > w):
            interp = cv2.INTER_CUBIC  # area is only meant for shrinking
        img = np.asarray(cv2.resize(img, (out_hw[1], out_hw[0]), interpolation=interp), dtype=np.float32)
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def _per_sample(
    hr: Image,
    prob: float,
    rng: np.random.Generator,
    draw: Callable[[np.random.Generator], Any],
    change: Callable[[Image, Any], Image],
) -> Image:
    """(B, T, H, W, 3) with `prob` of its samples changed, every frame of a sample with the same
    drawn parameter. Draws nothing when `prob` is 0, so older recipes keep their batches."""
    if prob <= 0.0:
        return hr
    out = hr.copy()
    for i in range(hr.shape[0]):
        if rng.random() < prob:
            param = draw(rng)
            for j in range(hr.shape[1]):
                out[i, j] = change(hr[i, j], param)
    return out


def code_ground_truth(hr: Image, cfg: DegradeConfig, rng: np.random.Generator) -> Image:
    """Ground truth with `coded_gt_prob` of its samples JPEG-coded (one quality per sample)."""
    lo, hi = cfg.coded_gt_quality
    return _per_sample(
        hr,
        cfg.coded_gt_prob,
        rng,
        lambda g: int(g.integers(lo, hi + 1)),
        lambda f, q: _apply(f.astype(np.float32), "jpeg", {"quality": q}, rng).astype(np.uint8),
    )


def disk_kernel(radius: float) -> npt.NDArray[np.float32]:
    """A normalised defocus disk of `radius` px, its edge pixels weighted by coverage (supersampled)."""
    r = math.ceil(radius)
    fine = 8  # sub-samples per pixel and axis
    y, x = np.mgrid[-r : r + 1 : 1 / fine, -r : r + 1 : 1 / fine] + 0.5 / fine - 0.5
    inside = (x**2 + y**2 <= radius**2).astype(np.float64)
    k = inside.reshape(2 * r + 1, fine, 2 * r + 1, fine).mean(axis=(1, 3))
    return (k / k.sum()).astype(np.float32)


def soften_ground_truth(hr: Image, cfg: DegradeConfig, rng: np.random.Generator) -> Image:
    """Ground truth with `soft_gt_prob` of its samples defocused (one radius per sample)."""
    return _per_sample(
        hr,
        cfg.soft_gt_prob,
        rng,
        lambda g: disk_kernel(float(g.uniform(*cfg.soft_gt_radius))),
        lambda f, k: np.asarray(cv2.filter2D(f, -1, k, borderType=cv2.BORDER_REFLECT_101), dtype=np.uint8),
    )


def degrade_batch(hr: Image, scale: int, cfg: DegradeConfig, rng: np.random.Generator) -> Image:
    """(B, T, H, W, 3) uint8 ground truth -> (B, T, H/scale, W/scale, 3) degraded input.

    The T frames of one sample share their recipe; with probability `h264_prob` the whole
    batch is then encoded as one H.264 clip (one ffmpeg call per batch keeps it affordable).
    """
    b, t, h, w, _ = hr.shape
    out_hw = (h // scale, w // scale)
    lr = np.empty((b, t, *out_hw, 3), dtype=np.uint8)
    for i in range(b):
        recipe = draw_recipe(cfg, rng)
        for j in range(t):
            lr[i, j] = apply_recipe(hr[i, j], recipe, out_hw, rng)
    if rng.random() < cfg.h264_prob:
        crf = float(rng.uniform(*cfg.h264_crf))
        lr = h264_roundtrip(lr.reshape(b * t, *out_hw, 3), crf=crf).reshape(lr.shape)
    return lr
