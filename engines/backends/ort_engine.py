"""onnxruntime backend: the portable reference.

CPU provider everywhere, CUDA provider where onnxruntime-gpu is installed and asked for.
Session options: all graph optimisations (constant folding, conv+activation fusion, layout
transforms), sequential execution (these graphs are a single chain of convolutions, so
inter-op parallelism only adds scheduling cost), intra-op threads = the CPUs this process may
use unless `threads` is given, and no spinning by default (the CPU is shared with decoding).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ganstream.engines import artifacts
from ganstream.engines.backends.base import BackendEngine
from ganstream.engines.card import ModelCard
from ganstream.engines.errors import BackendUnavailableError, ModelCardError, OptionError
from ganstream.engines.feed import Array

PRECISIONS = ("fp32", "int8")


def unavailable_reason(card: ModelCard, folder: Path, options: dict[str, Any], for_auto: bool = False) -> str | None:
    """None when onnxruntime can run this model here."""
    try:
        import onnxruntime
    except ImportError as exc:
        return f"onnxruntime is not installed ({exc})"
    if artifacts.onnx_name(card) is None:
        return "the model has no ONNX graph"
    cuda = str(options.get("device", "cpu")).startswith("cuda")
    if cuda and "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        return "CUDA asked for but onnxruntime-gpu is not installed"
    return None


def cpu_threads() -> int:
    """CPUs this process may run on (respects taskset / cgroup cpusets)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def default_precision(card: ModelCard, folder: Path, options: dict[str, Any] | None = None) -> str:
    """fp32: onnxruntime is the reference every other backend is compared with."""
    return "fp32"


def create(card: ModelCard, folder: Path, precision: str, **options: Any) -> OrtEngine:
    return OrtEngine(card, folder, precision, **options)


class OrtEngine(BackendEngine):
    backend = "ort"

    def __init__(
        self,
        card: ModelCard,
        folder: Path,
        precision: str = "fp32",
        device: str = "cpu",
        threads: int | None = None,
        spin: bool = False,
        **_: Any,
    ) -> None:
        import onnxruntime as ort

        if precision not in PRECISIONS:
            raise OptionError(f"ort backend runs {' or '.join(PRECISIONS)}, not {precision!r}")
        super().__init__(card, folder, precision)
        path = artifacts.require(card, folder, "onnx", int8=precision == "int8")
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.intra_op_num_threads = threads or cpu_threads()
        opts.inter_op_num_threads = 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        opts.log_severity_level = 3
        providers: list[Any] = ["CPUExecutionProvider"]
        if device.startswith("cuda"):
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise BackendUnavailableError("ort backend: CUDA asked for but onnxruntime-gpu is not installed")
            index = int(device.partition(":")[2] or 0)
            providers.insert(0, ("CUDAExecutionProvider", {"device_id": index}))
        self.device = device
        try:
            self.session = ort.InferenceSession(str(path), sess_options=opts, providers=providers)
        except Exception as exc:  # onnxruntime raises its own untyped errors for a bad graph
            raise ModelCardError(f"model '{card.name}': {path} is not a loadable ONNX graph ({exc})") from None
        names = [i.name for i in self.session.get_inputs()]
        expected = [s.name for s in card.inputs]
        if sorted(names) != sorted(expected):
            raise ModelCardError(f"model '{card.name}': {path.name} has inputs {names}, the card says {expected}")
        self.output_name = card.outputs[0].name

    def _run(self, feeds: dict[str, Array]) -> npt.NDArray[np.uint8]:
        out = self.session.run([self.output_name], feeds)[0]
        return np.asarray(out, dtype=np.uint8)

    def close(self) -> None:
        self.__dict__.pop("session", None)
        super().close()
