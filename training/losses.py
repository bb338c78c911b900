"""Losses: Charbonnier/L1 pixel loss, temporal consistency, adversarial and feature matching.

No perceptual (VGG) loss: its pretrained weights cannot be fetched here, so the GAN stage
relies on the adversarial term plus discriminator feature matching.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

ADV_KINDS = ("nonsaturating", "relativistic")


def charbonnier(x: torch.Tensor, y: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    return torch.sqrt((x - y) ** 2 + eps * eps).mean()


PIXEL_LOSSES = ("charbonnier", "l1", "mse")


def pixel_loss(x: torch.Tensor, y: torch.Tensor, kind: str = "charbonnier") -> torch.Tensor:
    """Charbonnier and L1 train to the median of what an input may hide (sharper, and L1 starts
    faster); MSE to its mean, which is what PSNR scores."""
    if kind == "charbonnier":
        return charbonnier(x, y)
    if kind == "l1":
        return F.l1_loss(x, y)
    if kind == "mse":
        return F.mse_loss(x, y)
    raise ValueError(f"pixel loss must be one of {', '.join(PIXEL_LOSSES)}, got {kind!r}")


def temporal_loss(out0: torch.Tensor, out1: torch.Tensor, gt0: torch.Tensor, gt1: torch.Tensor) -> torch.Tensor:
    """Flicker penalty: the change between outputs should follow the change between ground truths."""
    return F.l1_loss(out1 - out0, gt1 - gt0)


def generator_adv_loss(fake_logits: torch.Tensor, real_logits: torch.Tensor, kind: str) -> torch.Tensor:
    """Adversarial loss for the generator (non-saturating: -log D(fake); relativistic average)."""
    if kind == "nonsaturating":
        return F.softplus(-fake_logits).mean()
    if kind == "relativistic":
        real_rel = real_logits - fake_logits.mean()
        fake_rel = fake_logits - real_logits.mean()
        return 0.5 * (F.softplus(real_rel).mean() + F.softplus(-fake_rel).mean())
    raise ValueError(f"adversarial loss must be one of {', '.join(ADV_KINDS)}, got {kind!r}")


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "nonsaturating":
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
    if kind == "relativistic":
        real_rel = real_logits - fake_logits.mean()
        fake_rel = fake_logits - real_logits.mean()
        return 0.5 * (F.softplus(-real_rel).mean() + F.softplus(fake_rel).mean())
    raise ValueError(f"adversarial loss must be one of {', '.join(ADV_KINDS)}, got {kind!r}")


def feature_matching(fake_feats: list[torch.Tensor], real_feats: list[torch.Tensor]) -> torch.Tensor:
    """L1 between the discriminator's features of generated and real images (real side detached)."""
    total = fake_feats[0].new_zeros(())
    for f, r in zip(fake_feats, real_feats, strict=True):
        total = total + F.l1_loss(f, r.detach())
    return total / len(fake_feats)
