"""Typed errors of the live runtime.

Every error a user can cause (a bad URI, an unknown model, a sink that cannot be built) is a
`GanstreamError` whose message is one line naming the thing and what was expected. Each also
subclasses the matching builtin, so callers may catch `ValueError` for bad input.
"""

from __future__ import annotations


class GanstreamError(Exception):
    """Base of every error the runtime raises on purpose."""


class SourceError(GanstreamError, ValueError):
    """A source URI that cannot be parsed, opened or decoded."""


class SinkError(GanstreamError, ValueError):
    """A sink specification that cannot be built."""


class StageError(GanstreamError, ValueError):
    """A stage or model name/option that is not valid."""


class ConfigError(GanstreamError, ValueError):
    """A configuration file or option with a bad value."""


class PipelineError(GanstreamError, RuntimeError):
    """A pipeline that failed while running (an element error, a stream that broke)."""


class MissingDependencyError(GanstreamError, RuntimeError):
    """A system component (GStreamer plugin, Python binding) that is not installed."""
