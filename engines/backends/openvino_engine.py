"""OpenVINO backend: the fast CPU path.

Runs the model's ONNX graph (fp32, or its NNCF int8 variant) with OpenVINO's CPU plugin. The
inference precision is bf16 where the CPU reports BF16 in its optimisation capabilities (AMX or
AVX512-BF16), f32 elsewhere; ask for "fp32" to force f32. A graph is compiled once per input
shape (a stream has one, so that is once) because static shapes let the plugin pick its fastest
convolution kernels; pass ``shapes=[(h, w), ...]`` to compile them at start-up.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ganstream.engines import artifacts
from ganstream.engines.backends.base import BackendEngine
from ganstream.engines.backends.ort_engine import cpu_threads
from ganstream.engines.card import ModelCard
from ganstream.engines.errors import BackendUnavailableError, ModelCardError, OptionError
from ganstream.engines.feed import Array, example_inputs, prepare

PRECISIONS = ("fp32", "bf16", "int8")
_HINTS = {"fp32": "f32", "bf16": "bf16"}


def unavailable_reason(card: ModelCard, folder: Path, options: dict[str, Any], for_auto: bool = False) -> str | None:
    try:
        import openvino  # noqa: F401
    except ImportError as exc:
        return f"openvino is not installed ({exc})"
    if artifacts.onnx_name(card) is None:
        return "the model has no ONNX graph"
    if str(options.get("device", "cpu")) != "cpu":
        return "the openvino backend here runs on the CPU only"
    return None


def cpu_supports_bf16() -> bool:
    """True when OpenVINO's CPU plugin reports native bf16 (AMX or AVX512-BF16)."""
    import openvino as ov

    caps = ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    return "BF16" in [str(c).upper() for c in caps]


def int8_ships(card: ModelCard) -> bool:
    """The int8 variant is the default only if its measured PSNR drop against fp32 is < 0.1 dB."""
    q = card.metrics.get("int8", {})
    return bool(isinstance(q, dict) and q.get("psnr_drop_db", 1e9) < 0.1)


def default_precision(card: ModelCard, folder: Path, options: dict[str, Any] | None = None) -> str:
    if artifacts.onnx_name(card, int8=True) and int8_ships(card):
        return "int8"
    return "bf16" if cpu_supports_bf16() else "fp32"


def rewrite_prelu_slopes(model: Any) -> int:
    """Give PReLU slopes the explicit per-channel shape (1, C, 1, 1); returns how many changed.

    torch's TorchScript ONNX exporter writes a PReLU slope as (C, 1, 1). The CPU plugin then
    treats the PReLU as a generic broadcast Eltwise: it cannot fuse it into the preceding
    convolution and reorders the tensor layout around it, twice per layer. As (1, C, 1, 1) it is
    fused as a per-channel post-op, which on the compact SR net saves 20-25% (fp32, bf16 and
    int8 alike) with identical output.
    """
    from openvino import opset13

    changed = 0
    for op in model.get_ordered_ops():
        if op.get_type_name() != "PRelu":
            continue
        slope = op.input_value(1).get_node()
        if slope.get_type_name() != "Constant" or op.input_value(0).get_partial_shape().rank.get_length() != 4:
            continue
        shape = list(slope.get_output_shape(0))
        if len(shape) == 3 and shape[1:] == [1, 1]:
            data = slope.get_data().reshape(1, shape[0], 1, 1)
            op.input(1).replace_source_output(opset13.constant(data).output(0))
            changed += 1
    return changed


def create(card: ModelCard, folder: Path, precision: str, **options: Any) -> OpenVinoEngine:
    return OpenVinoEngine(card, folder, precision, **options)


class OpenVinoEngine(BackendEngine):
    backend = "openvino"

    def __init__(
        self,
        card: ModelCard,
        folder: Path,
        precision: str = "bf16",
        threads: int | None = None,
        shapes: list[tuple[int, int]] | None = None,
        max_batch: int = 1,
        per_channel_prelu: bool = True,
        **_: Any,
    ) -> None:
        import openvino as ov

        if precision not in PRECISIONS:
            raise OptionError(f"openvino backend runs {', '.join(PRECISIONS)}, not {precision!r}")
        bf16 = cpu_supports_bf16()
        if precision == "bf16" and not bf16:
            raise BackendUnavailableError("openvino backend: this CPU has no native bf16 (AMX / AVX512-BF16); use fp32")
        super().__init__(card, folder, precision)
        path = artifacts.require(card, folder, "onnx", int8=precision == "int8")
        self.core = ov.Core()
        try:
            self.model = self.core.read_model(str(path))
        except Exception as exc:  # OpenVINO raises untyped RuntimeErrors for a bad graph
            raise ModelCardError(f"model '{card.name}': {path} is not a loadable ONNX graph ({exc})") from None
        if per_channel_prelu:  # off only to measure what the rewrite is worth
            rewrite_prelu_slopes(self.model)
        # int8 layers run in int8 either way; the hint sets the precision of everything else.
        hint = _HINTS.get(precision, "bf16" if bf16 else "f32")
        self.config = {
            "INFERENCE_PRECISION_HINT": hint,
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_NUM_THREADS": int(threads or cpu_threads()),
        }
        self.device = f"cpu ({hint})"
        self._requests: dict[tuple[tuple[int, ...], ...], Any] = {}
        for h, w in shapes or []:  # compile now, not on the first frame of a stream
            warm = example_inputs(card, max_batch, h, w)
            self._request(prepare(card, warm, where="openvino shapes").feeds)

    def _request(self, feeds: dict[str, Array]) -> Any:
        key = tuple(tuple(a.shape) for a in feeds.values())
        req = self._requests.get(key)
        if req is None:
            model = self.model.clone()
            model.reshape({name: list(a.shape) for name, a in feeds.items()})
            compiled = self.core.compile_model(model, "CPU", self.config)
            req = self._requests[key] = compiled.create_infer_request()
        return req

    def _run(self, feeds: dict[str, Array]) -> npt.NDArray[np.uint8]:
        req = self._request(feeds)
        req.infer(feeds, share_inputs=True)
        return np.array(req.get_output_tensor(0).data, dtype=np.uint8, copy=True)

    def close(self) -> None:
        self._requests.clear()
        super().close()
