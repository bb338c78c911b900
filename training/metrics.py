"""Image quality metrics on uint8 RGB frames: Y-PSNR (BT.601 luma, as SR papers report), SSIM, detail, flicker."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]


def rgb_to_y(img: npt.NDArray[np.generic]) -> npt.NDArray[np.float64]:
    """BT.601 luma in [16, 235] from RGB in [0, 255] (the MATLAB rgb2ycbcr convention)."""
    x = img.astype(np.float64)
    return 16.0 + (65.481 * x[..., 0] + 128.553 * x[..., 1] + 24.966 * x[..., 2]) / 255.0


def psnr_y(a: Image, b: Image, border: int = 0) -> float:
    ya, yb = rgb_to_y(a), rgb_to_y(b)
    if border:
        ya, yb = ya[..., border:-border, border:-border], yb[..., border:-border, border:-border]
    mse = float(np.mean((ya - yb) ** 2))
    return 100.0 if mse == 0 else 10.0 * float(np.log10(255.0**2 / mse))


def ssim_y(a: Image, b: Image, border: int = 0) -> float:
    from skimage.metrics import structural_similarity

    ya, yb = rgb_to_y(a), rgb_to_y(b)
    if border:
        ya, yb = ya[border:-border, border:-border], yb[border:-border, border:-border]
    return float(
        structural_similarity(ya, yb, data_range=255.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
    )


def flicker(frames: npt.NDArray[np.uint8], reference: npt.NDArray[np.uint8]) -> float:
    """Mean |(out[t+1]-out[t]) - (gt[t+1]-gt[t])| in luma levels: flicker added over the ground truth."""
    y, r = rgb_to_y(frames), rgb_to_y(reference)
    return float(np.mean(np.abs(np.diff(y, axis=0) - np.diff(r, axis=0))))


def detail_ratio(a: Image, b: Image, border: int = 0) -> float:
    """Fine detail of `a` relative to the reference `b`: the ratio of their luma Laplacian energies.

    1.0 means as much high-frequency content as the reference; blurry output scores below 1,
    over-sharpened or noisy output above. PSNR favours blur, so this shows what a GAN stage adds.
    """
    import cv2

    ya, yb = rgb_to_y(a), rgb_to_y(b)
    if border:
        ya, yb = ya[border:-border, border:-border], yb[border:-border, border:-border]
    la, lb = cv2.Laplacian(ya, cv2.CV_64F), cv2.Laplacian(yb, cv2.CV_64F)
    ref = float(np.mean(lb**2))
    return float(np.mean(la**2)) / ref if ref > 0 else 1.0
