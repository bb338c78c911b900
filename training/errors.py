"""Typed errors of the training package; each message is one line naming the file or value."""

from __future__ import annotations


class TrainingError(Exception):
    """Base of every error training raises on purpose."""


class DataError(TrainingError, ValueError):
    """A data folder, manifest, source package or media file that is missing or unusable."""


class ConfigError(TrainingError, ValueError):
    """A training option (preset, scale, stage, loss) with a value that is not accepted."""


class CheckpointError(TrainingError, ValueError):
    """A run folder or checkpoint that is missing, incomplete or does not match its state file."""


class ExportError(TrainingError, RuntimeError):
    """An export whose ONNX graph failed to build or disagreed with torch beyond the tolerance."""


class ToolError(TrainingError, RuntimeError):
    """An external tool (apt-get, dpkg, pip, ffmpeg) that is missing or failed."""
