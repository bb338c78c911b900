"""ganstream's live runtime: sources, the GStreamer bridge, stages, sinks, CLI."""

from ganstream.stream.errors import GanstreamError, PipelineError, SinkError, SourceError, StageError
from ganstream.stream.frame import Frame, VideoSpec
from ganstream.stream.pipeline import Pipeline, RunOptions
from ganstream.stream.sources import SourceOptions
from ganstream.stream.stats import RunStats

__all__ = [
    "Frame",
    "GanstreamError",
    "Pipeline",
    "PipelineError",
    "RunOptions",
    "RunStats",
    "SinkError",
    "SourceError",
    "SourceOptions",
    "StageError",
    "VideoSpec",
]
