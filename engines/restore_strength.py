"""How much of a restore model's correction to keep, measured on the stream itself.

A restore model trained on noisy and compressed frames removes what it takes for noise. On a
clean or lightly degraded stream, or on fine texture (grass, foliage), what it removes is
detail, and its output falls below its own input. No ground truth exists in a live stream, but
Stein's unbiased risk estimate (SURE; Stein 1981, and Ramani, Blu and Unser 2008 for the
Monte-Carlo divergence of a black-box denoiser) gives the mean squared error of any denoiser
from the noisy frame alone, once the noise level is known. For the output
``x + alpha * (f(x) - x)`` it is smallest at

    alpha = sigma^2 * (N - div f(x)) / ||f(x) - x||^2

with ``div f`` measured by one more model run on the frame plus a small random +-delta
perturbation ``b``: ``div f ~ <b, f(x + delta b) - f(x)> / delta``. ``sigma`` comes from the
frame too (Immerkaer's Laplacian-difference estimator on 8x8 blocks, read at their 5th
percentile, so texture does not read as noise).

SURE holds for white Gaussian noise. Compression artifacts are not that: on an H.264 frame the
estimated sigma is near zero and so is SURE's alpha, yet the model does remove blocking. A floor
(`DEFAULT_FLOOR`, chosen on the selection split) keeps that part.

One estimate costs two model runs at full size (one when the caller passes the output it
already has); it runs on the first frame and every ``every`` frames after, and the sums decay
slowly so the strength moves smoothly.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]
Runner = Callable[[Image], Image]  # one (H, W, 3) uint8 frame -> (H, W, 3)

# Immerkaer's kernel: the difference of two Laplacians, blind to linear ramps
_LAPLACE_DIFF = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
_BLOCK = 8
_CLIPPED_MARGIN = 32  # levels from black or white within which noise is clipped
_MIN_MID_FRACTION = 0.25
_FLAT_PERCENTILE = 5.0
# The 5th percentile of 8x8-block estimates reads this fraction of the true sigma on flat white
# Gaussian noise (measured at sigma 3-20; tests/unit/test_restore_strength.py checks it). The
# percentile was chosen on the selection split (2, 5, 10 and 20 tried: 5 scored best at sigma 15).
_PERCENTILE_BIAS = 0.748
PERTURBATION = 4  # levels: large enough to survive the uint8 output, small against the noise
FULL_STRENGTH = 0.98  # above this the model's output is passed through untouched (no blend cost)
# Kept on compressed input, where SURE (a Gaussian-noise estimate) sees no noise. Chosen on the
# selection split: the largest of 0, 0.1, 0.2, 0.25, 0.3, 0.4 with no item below its input
# on H.264 CRF 30 (docs/benchmarks.md, "restore strength").
DEFAULT_FLOOR = 0.2


def noise_sigma(frame: Image) -> float:
    """The frame's white-noise standard deviation, in levels, averaged over its channels (rms)."""
    variances = []
    for c in range(frame.shape[2]):
        channel = np.ascontiguousarray(frame[..., c], dtype=np.float32)
        response = np.abs(cv2.filter2D(channel, -1, _LAPLACE_DIFF))[1:-1, 1:-1]
        h, w = (response.shape[0] // _BLOCK) * _BLOCK, (response.shape[1] // _BLOCK) * _BLOCK
        if h == 0 or w == 0:
            return 0.0
        blocks = response[:h, :w].reshape(h // _BLOCK, _BLOCK, w // _BLOCK, _BLOCK).mean(axis=(1, 3))
        # Near black or white the noise is clipped and reads low (a dim scene read a third of its
        # noise, and the strength fell with it): use the mid-tone blocks where enough exist.
        level = channel[1 : h + 1, 1 : w + 1].reshape(h // _BLOCK, _BLOCK, w // _BLOCK, _BLOCK).mean(axis=(1, 3))
        mid = blocks[(level > _CLIPPED_MARGIN) & (level < 255 - _CLIPPED_MARGIN)]
        blocks = mid if mid.size >= _MIN_MID_FRACTION * blocks.size else blocks.ravel()
        # E|response| = 6 sigma sqrt(2/pi) for white Gaussian noise (Immerkaer 1996)
        sigma = float(np.percentile(blocks, _FLAT_PERCENTILE)) * np.sqrt(np.pi / 2) / 6 / _PERCENTILE_BIAS
        variances.append(sigma * sigma)
    return float(np.sqrt(np.mean(variances)))


def sure_terms(
    frame: Image, out: Image, perturbed_out: Image, signs: npt.NDArray[np.int8], sigma: float
) -> tuple[float, float]:
    """(sigma^2 (N - div f), ||f(x) - x||^2): the least-squares terms of SURE's optimal strength.

    `perturbed_out` is the model's output on ``frame + PERTURBATION * signs`` (clipped to uint8)."""
    x = frame.astype(np.float32)
    residual = out.astype(np.float32) - x
    divergence = float(np.vdot((perturbed_out.astype(np.float32) - out.astype(np.float32)), signs.astype(np.float32)))
    divergence /= PERTURBATION
    return sigma * sigma * (frame.size - divergence), float(np.vdot(residual, residual))


def perturb(frame: Image, rng: np.random.Generator) -> tuple[Image, npt.NDArray[np.int8]]:
    signs = (rng.integers(0, 2, frame.shape, dtype=np.int8) * 2 - 1).astype(np.int8)
    moved = np.clip(frame.astype(np.int16) + PERTURBATION * signs, 0, 255).astype(np.uint8)
    return moved, signs


class RestoreStrength:
    """The restore strength of one stream; `apply` blends each output frame with its input."""

    def __init__(
        self,
        run: Runner,
        every: int = 50,
        decay: float = 0.7,
        floor: float = DEFAULT_FLOOR,
        seed: int = 0,
        min_side: int = 16,
    ) -> None:
        if not 0.0 <= floor <= 1.0:
            raise ValueError(f"restore strength floor must be in [0, 1], got {floor}")
        self.run = run
        self.every = every
        self.decay = decay  # weight of the older estimates at each new one
        self.floor = floor
        self.min_side = min_side  # below this there are too few blocks to read the noise from
        self.rng = np.random.default_rng(seed)
        self.alpha = 1.0
        self.sigma = 0.0  # the last noise estimate, for the run summary
        self.estimates = 0
        self._num = 0.0
        self._den = 0.0
        self._frames = 0

    def reset(self) -> None:
        """Forget the stream (a new source, a size change): the next frame is measured afresh."""
        self.alpha, self.sigma, self.estimates, self._num, self._den, self._frames = 1.0, 0.0, 0, 0.0, 0.0, 0

    def observe(self, frame: Image, out: Image | None = None) -> float:
        """Measure on `frame` (the model's input) when one is due; the current strength.

        `out`, the model's output on `frame` when the caller has it, saves one run. A recurrent
        model's `run` must then call it with the same memory: its state comes from earlier
        frames, whose noise is independent of this one's, so SURE treats it as a constant."""
        due = self._frames % self.every == 0
        self._frames += 1
        if due:
            self.estimate(frame, out)
        return self.alpha

    def estimate(self, frame: Image, out: Image | None = None) -> float:
        if min(frame.shape[:2]) < self.min_side:
            return self.alpha  # too small to measure: keep the model's output
        self.sigma = noise_sigma(frame)
        moved, signs = perturb(frame, self.rng)
        base = self.run(frame) if out is None else out
        num, den = sure_terms(frame, base, self.run(moved), signs, self.sigma)
        self._num = self.decay * self._num + num
        self._den = self.decay * self._den + den
        self.estimates += 1
        self.alpha = float(np.clip(self._num / self._den, self.floor, 1.0)) if self._den > 0 else 1.0
        return self.alpha

    def apply(self, frame: Image, model_out: Image) -> Image:
        """`model_out` with the current strength: alpha * model + (1 - alpha) * input."""
        if self.alpha >= FULL_STRENGTH:
            return model_out
        return np.asarray(cv2.addWeighted(model_out, self.alpha, frame, 1.0 - self.alpha, 0.0), dtype=np.uint8)
