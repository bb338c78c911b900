"""Triton Inference Server: model-repository export and a gRPC client backend.

``export_model_repository`` writes a model's ONNX graph as a Triton model (versioned folder,
config.pbtxt with dynamic batching, I/O names and shapes from the ModelCard); the ``triton``
backend (``ganstream.engines.triton.backend``) runs models on such a server over gRPC, so many
edge boxes can share one GPU pool.
"""

from ganstream.engines.triton.export import export_model_repository, render_config

__all__ = ["export_model_repository", "render_config"]
