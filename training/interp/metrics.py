"""Quality figures on luma (BT.601 Y, as video codecs and interpolation papers report them)."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]


def luma(rgb: Image) -> npt.NDArray[np.float64]:
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    y: npt.NDArray[np.float64] = 16.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0
    return y


def psnr_y(a: Image, b: Image) -> float:
    mse = float(np.mean((luma(a) - luma(b)) ** 2))
    return 100.0 if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


def ssim_y(a: Image, b: Image) -> float:
    """SSIM (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5) on luma."""
    x, y = luma(a), luma(b)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(z: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.asarray(cv2.GaussianBlur(z, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT), dtype=np.float64)

    mx, my = blur(x), blur(y)
    sxx, syy, sxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return float(s[5:-5, 5:-5].mean())
