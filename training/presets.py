"""Named model sizes. `tiny` runs in real time on a CPU at 360p output; `small` and `base` are for GPUs."""

from __future__ import annotations

from typing import Any

from ganstream.training.errors import ConfigError

SR_PRESETS: dict[str, dict[str, int]] = {
    "tiny": {"num_feat": 32, "num_conv": 8},
    # tiny's cost, its body at half the input's resolution: twice the features and reach
    "wide": {"num_feat": 64, "num_conv": 8, "unshuffle": 2},
    # the body at a quarter of the input's resolution: 128 features, 4.4x wide's weights for about
    # its time on an AMX CPU (OpenVINO bf16 at 320x180 in; docs/training.md) and 4x its reach
    "wide4": {"num_feat": 128, "num_conv": 8, "unshuffle": 4},
    "small": {"num_feat": 48, "num_conv": 12},
    "base": {"num_feat": 64, "num_conv": 16},
}
RESTORE_PRESETS: dict[str, dict[str, int]] = {
    "tiny": {"num_feat": 32, "num_conv": 8},
    "small": {"num_feat": 48, "num_conv": 12},
    "base": {"num_feat": 64, "num_conv": 16},
}


def generator_arch(task: str, preset: str, scale: int) -> dict[str, Any]:
    """The card ``arch`` dict for a task/preset/scale."""
    if task == "sr":
        if preset not in SR_PRESETS:
            raise ConfigError(f"preset must be one of {', '.join(SR_PRESETS)}, got {preset!r}")
        if scale not in (2, 3, 4):
            raise ConfigError(f"sr scale must be 2, 3 or 4, got {scale}")
        return {"name": "srvgg", "params": {"scale": scale, **SR_PRESETS[preset]}}
    if task == "restore":
        if preset not in RESTORE_PRESETS:
            raise ConfigError(f"preset must be one of {', '.join(RESTORE_PRESETS)}, got {preset!r}")
        return {"name": "restore", "params": dict(RESTORE_PRESETS[preset])}
    raise ConfigError(f"task must be sr or restore, got {task!r}")
