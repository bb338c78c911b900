"""Typed errors of the engines package; each message is one line naming the file or value."""

from __future__ import annotations


class EngineError(Exception):
    """Base of every error engines raise on purpose."""


class ModelNotFoundError(EngineError, LookupError):
    """No installed model or artifact with that name or path."""


class ModelCardError(EngineError, ValueError):
    """A card that is missing, malformed, or does not match its artifact (sha256, version)."""


class IncompatibleEngineError(EngineError, RuntimeError):
    """A built engine for another GPU / TensorRT version; the message says how to rebuild."""


class BackendUnavailableError(EngineError, RuntimeError):
    """The requested backend's runtime is not installed or has no usable device."""


class ShapeError(EngineError, ValueError):
    """An input whose shape, dtype or size is outside what the engine accepts."""


class EngineClosedError(EngineError, RuntimeError):
    """An engine used after close()."""


class OptionError(EngineError, ValueError):
    """An argument with a value outside what is accepted (unknown precision, bad tile size)."""
