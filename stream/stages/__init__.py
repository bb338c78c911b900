"""Stages: pure frame logic (no GStreamer), chained restore -> sr -> interpolate."""

from ganstream.stream.stages.base import Stage
from ganstream.stream.stages.classical import IdentityStage, NlmeansStage, ResampleStage
from ganstream.stream.stages.enhance import EnhanceStage

__all__ = ["EnhanceStage", "IdentityStage", "NlmeansStage", "ResampleStage", "Stage"]
