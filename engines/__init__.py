"""Inference engines: model cards, the model store and the backends that run models.

``load_engine("sr2x")`` finds an installed model, checks its card and artifacts and opens it on
the best backend here (TensorRT, torch on CUDA, OpenVINO, onnxruntime). Importing this package
imports neither torch nor any backend runtime.
"""

from ganstream.engines.card import ModelCard, ShapeLimits, TensorSpec
from ganstream.engines.errors import (
    BackendUnavailableError,
    EngineError,
    IncompatibleEngineError,
    ModelCardError,
    ModelNotFoundError,
    OptionError,
    ShapeError,
)
from ganstream.engines.loader import load_engine
from ganstream.engines.store import InstalledModel, list_models, resolve_model

__all__ = [
    "BackendUnavailableError",
    "EngineError",
    "IncompatibleEngineError",
    "InstalledModel",
    "ModelCard",
    "ModelCardError",
    "ModelNotFoundError",
    "OptionError",
    "ShapeError",
    "ShapeLimits",
    "TensorSpec",
    "list_models",
    "load_engine",
    "resolve_model",
]
