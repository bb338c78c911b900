"""OpenVINO backend: the fast CPU path.

Runs the model's ONNX graph (fp32), or its NNCF int8 OpenVINO IR, with OpenVINO's CPU plugin.
bf16 runs where the CPU reports BF16 in its optimisation capabilities (AMX or AVX512-BF16); the
input normalisation, skip, final add and rounding stay f32 at every precision: the graph is cut
where the body's residual meets the skip, the body compiled at the reduced precision and the
edges at f32 (``openvino_graph.split_at_skip``). Without a precision, the backend uses the one measured
fastest within the quality gate on this machine (``engines.precision_choice``). A graph is
compiled once per input shape (a stream has one, so that is once) because static shapes let the
plugin pick its fastest convolution kernels; pass ``shapes=[(h, w), ...]`` to compile them at
start-up.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ganstream.engines import artifacts
from ganstream.engines.backends.base import BackendEngine
from ganstream.engines.backends.openvino_graph import (
    BODY_OUTPUT,
    EdgeBuffers,
    fold_constants,
    host_edges,
    host_skip,
    rewrite_prelu_slopes,
    split_at_skip,
)
from ganstream.engines.backends.ort_engine import cpu_threads
from ganstream.engines.card import ModelCard
from ganstream.engines.errors import BackendUnavailableError, ModelCardError, OptionError
from ganstream.engines.feed import Array, example_inputs, prepare

if TYPE_CHECKING:
    from ganstream.engines.precision_choice import PrecisionChoice

log = logging.getLogger(__name__)
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


_CORE: Any = None


def shared_core() -> Any:
    """The process's one ``ov.Core``, never destroyed.

    One Core per engine used to be created and dropped with it; once the last Core that had
    compiled both an f32 and an int8 graph was gone, the CPU plugin's library was unloaded while
    something it had registered stayed, and the next SIGINT crashed the process (a segfault
    instead of a clean stop). OpenVINO's own guidance is one Core per application anyway.
    """
    global _CORE
    if _CORE is None:
        import openvino as ov

        _CORE = ov.Core()
    return _CORE


def cpu_supports_bf16() -> bool:
    """True when OpenVINO's CPU plugin reports native bf16 (AMX or AVX512-BF16)."""
    caps = shared_core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    return "BF16" in [str(c).upper() for c in caps]


def int8_ships(card: ModelCard) -> bool:
    """The int8 variant may be chosen only if its measured PSNR drop against fp32 is < 0.1 dB."""
    q = card.metrics.get("int8", {})
    return bool(isinstance(q, dict) and q.get("psnr_drop_db", 1e9) < 0.1)


def candidate_precisions(card: ModelCard) -> list[str]:
    """The precisions that can run this model here, fp32 first."""
    out = ["fp32"]
    if cpu_supports_bf16():
        out.append("bf16")
    if artifacts.onnx_name(card, int8=True) and int8_ships(card):
        out.append("int8")
    return out


def precision_choice(card: ModelCard, folder: Path) -> PrecisionChoice:
    """The fastest precision that keeps quality on this machine, measured once and cached."""
    from ganstream.engines.precision_choice import choose_precision

    return choose_precision(card, folder, "openvino", candidate_precisions(card))


def default_precision(card: ModelCard, folder: Path, options: dict[str, Any] | None = None) -> str:
    return precision_choice(card, folder).precision


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
        f32_edges: bool = True,
        **_: Any,
    ) -> None:
        if precision not in PRECISIONS:
            raise OptionError(f"openvino backend runs {', '.join(PRECISIONS)}, not {precision!r}")
        bf16 = cpu_supports_bf16()
        if precision == "bf16" and not bf16:
            raise BackendUnavailableError("openvino backend: this CPU has no native bf16 (AMX / AVX512-BF16); use fp32")
        super().__init__(card, folder, precision)
        path = None
        if precision == "int8":
            # The OpenVINO-native int8 IR; an older model folder may hold only the ONNX QDQ graph.
            path = artifacts.openvino_int8(card, folder)
        path = path or artifacts.require(card, folder, "onnx", int8=precision == "int8")
        self.graph_file = path.name
        self.core = shared_core()
        try:
            self.model = self.core.read_model(str(path))
        except Exception as exc:  # OpenVINO raises untyped RuntimeErrors for a bad graph
            raise ModelCardError(f"model '{card.name}': {path} is not a loadable graph ({exc})") from None
        if per_channel_prelu:  # off only to measure what the rewrite is worth
            rewrite_prelu_slopes(self.model)
        self.f32_edges = f32_edges
        # int8 layers run in int8 either way; the hint sets the precision of everything else.
        self.hint = _HINTS.get(precision, "bf16" if bf16 else "f32")
        self.config = {
            "INFERENCE_PRECISION_HINT": self.hint,
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_NUM_THREADS": int(threads or cpu_threads()),
        }
        self.device = f"cpu ({self.hint})"
        self._requests: dict[tuple[tuple[int, ...], ...], Any] = {}
        for h, w in shapes or []:  # compile now, not on the first frame of a stream
            warm = example_inputs(card, max_batch, h, w)
            self._request(prepare(card, warm, where="openvino shapes").feeds)

    def _compile(self, model: Any) -> Any:
        """An infer request for `model` (static shapes), with two fallbacks that keep a stream running.

        At a reduced precision the body and the f32 edges compile apart (``SplitRequest``); at
        f32 too where the edges are an SR model's bicubic skip, which then runs on the host.
        1. A cut that the plugin cannot compile: the whole graph at the reduced precision (the
           rounding then runs at the body's precision), with a warning.
        2. An int8 graph whose float parts have no bf16 kernel on this CPU (what the ONNX QDQ
           graph hit on AMX): its int8 convolutions still run, the float parts at f32.
        An fp32 graph that does not compile is a real error and is raised.
        """
        if self.f32_edges:
            fold_constants(model)
            parts = split_at_skip(model)
            host = host_skip(parts[1]) if parts is not None else None
            if parts is not None and (self.hint != "f32" or host is not None):
                body, edges = parts
                try:
                    return SplitRequest(
                        self.core.compile_model(body, "CPU", self.config).create_infer_request(),
                        self.core.compile_model(
                            edges, "CPU", {**self.config, "INFERENCE_PRECISION_HINT": "f32"}
                        ).create_infer_request(),
                        host,
                        self.card.name,
                    )
                except RuntimeError as exc:
                    log.warning(
                        "model '%s': %s does not compile with f32 edges at the %s hint here (%s); edges at %s",
                        self.card.name, self.graph_file, self.hint, _last_line(exc), self.hint,
                    )  # fmt: skip
        try:
            return self.core.compile_model(model, "CPU", self.config).create_infer_request()
        except RuntimeError as exc:
            first = exc
        if self.precision != "int8" or self.hint == "f32":
            raise first
        log.warning(
            "model '%s': int8 graph %s does not compile at the bf16 hint here (%s); using f32 for its float parts",
            self.card.name,
            self.graph_file,
            _last_line(first),
        )
        self.hint = self.config["INFERENCE_PRECISION_HINT"] = "f32"
        self.device = "cpu (f32)"
        return self.core.compile_model(model, "CPU", self.config).create_infer_request()

    def _request(self, feeds: dict[str, Array]) -> Any:
        key = tuple(tuple(a.shape) for a in feeds.values())
        req = self._requests.get(key)
        if req is None:
            model = self.model.clone()
            model.reshape({name: list(a.shape) for name, a in feeds.items()})
            req = self._requests[key] = self._compile(model)
        return req

    def _run(self, feeds: dict[str, Array]) -> npt.NDArray[np.uint8]:
        req = self._request(feeds)
        req.infer(feeds, share_inputs=True)
        return np.array(req.get_output_tensor(0).data, dtype=np.uint8, copy=True)

    def close(self) -> None:
        self._requests.clear()
        super().close()


def _last_line(exc: Exception) -> str:
    """The gist of an OpenVINO error (its last line, shortened) for a one-line warning."""
    text = str(exc).strip()
    return text.splitlines()[-1][:160] if text else type(exc).__name__


class SplitRequest:
    """The body's request at the reduced precision, then the edges at f32, as one request.

    The body's output tensor is handed to the edges without a copy. Where the edges are an SR
    model's bicubic skip and rounding (``host`` from ``openvino_graph.host_skip``) they run on the
    host with OpenCV, 1.3 ms against OpenVINO's 8.6 at 640x360 out; the first frame runs both and
    keeps the host path only if it gives OpenVINO's output (at most one level off on under 0.1 %
    of the values), so a graph this does not fit still runs right.
    """

    def __init__(self, body: Any, edges: Any, host: tuple[str, int] | None = None, name: str = "") -> None:
        self.body, self.edges, self.name = body, edges, name
        self.host_input = host[0] if host else None
        self.checked = False
        self.work = EdgeBuffers()
        self._out: npt.NDArray[np.uint8] | None = None

    def infer(self, feeds: dict[str, Array], share_inputs: bool = True) -> None:
        self.body.infer(feeds, share_inputs=share_inputs)
        residual = self.body.get_output_tensor(0)
        self._out = None
        if self.host_input is not None:
            out = host_edges(feeds[self.host_input], residual.data, self.work)
            if self.checked:
                self._out = out
                return
            self.checked = True
            self.edges.infer({**feeds, BODY_OUTPUT: residual}, share_inputs=share_inputs)
            ref = np.asarray(self.edges.get_output_tensor(0).data)
            off = np.abs(out.astype(np.int16) - ref)
            if ref.shape == out.shape and off.max() <= 1 and float(np.mean(off > 0)) < 1e-3:
                self._out = out
            else:
                log.warning(
                    "model '%s': the skip computed on the host differs from OpenVINO's; using OpenVINO's", self.name
                )
                self.host_input = None
            return
        self.edges.infer({**feeds, BODY_OUTPUT: residual}, share_inputs=share_inputs)

    def get_output_tensor(self, index: int = 0) -> Any:
        if self._out is not None:
            return HostTensor(self._out)
        return self.edges.get_output_tensor(index)


class HostTensor:
    """What ``get_output_tensor`` returns for output computed on the host: its ``data``."""

    def __init__(self, data: npt.NDArray[np.uint8]) -> None:
        self.data = data
