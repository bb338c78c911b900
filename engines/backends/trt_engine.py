"""TensorRT backend: a built plan run with pycuda.

One CUDA context (the device's primary context, shared with TensorRT), and two slots, each
with its own stream, execution context, pinned host buffers and device buffers. A frame goes
H2D copy -> ``execute_async_v3`` -> D2H copy on its slot's stream; ``infer_many`` keeps both
slots busy, so one batch's copies overlap the other's compute. Tensors are bound by name
(TensorRT 10 I/O API). A plan is checked against this machine's TensorRT version and GPU before
it is deserialised; a mismatch says how to rebuild. Plans are built at start-up (never while a
stream runs) when none fits the requested shapes.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ganstream.engines import artifacts, plan_cache
from ganstream.engines.backends.base import BackendEngine
from ganstream.engines.backends.torch_engine import nvidia_gpu_present
from ganstream.engines.card import ModelCard
from ganstream.engines.errors import IncompatibleEngineError, ModelCardError
from ganstream.engines.feed import Array, prepare

log = logging.getLogger(__name__)
PRECISIONS = ("fp32", "fp16", "bf16", "int8")


def unavailable_reason(card: ModelCard, folder: Path, options: dict[str, Any], for_auto: bool = False) -> str | None:
    if not str(options.get("device", "cuda")).startswith("cuda"):
        return f"TensorRT runs on CUDA devices, not {options['device']!r}"
    for mod in ("tensorrt", "pycuda"):
        if importlib.util.find_spec(mod) is None:
            return f"{mod} is not installed (pip install 'ganstream[gpu]')"
    if not nvidia_gpu_present():
        return "no NVIDIA GPU here"
    if card.artifact("plan") is None:
        if artifacts.onnx_name(card) is None:
            return "the model has neither a plan nor an ONNX graph to build one from"
        if not options.get("shapes"):
            return "no plan yet: pass shapes=[(h, w)] (or --shape) to build one at start-up"
    return None


def default_precision(card: ModelCard, folder: Path, options: dict[str, Any] | None = None) -> str:
    return card.precision if card.artifact("plan") else "fp16"


def create(
    card: ModelCard,
    folder: Path,
    precision: str,
    shapes: list[tuple[int, int]] | None = None,
    max_batch: int = 1,
    device: str = "cuda",
    calib_frames: Any = None,
    **options: Any,
) -> TrtEngine:
    """Open a plan: the model's own, or one from the cache, built now if none fits."""
    from ganstream.engines.trt_build import build_plan

    index = int(device.partition(":")[2] or 0)
    if card.artifact("plan") is None:
        folder = build_plan(card, folder, precision, list(shapes or []), max_batch, calib_frames, index)
        card = ModelCard.load(folder)
    elif precision != card.precision:
        raise ModelCardError(
            f"plan '{card.name}' in {folder} is {card.precision}, not {precision}; build a {precision} one"
        )
    return TrtEngine(card, folder, device_index=index)


class _Slot:
    """One in-flight batch: a stream, an execution context and its host/device buffers."""

    def __init__(self, engine: Any, cuda: Any) -> None:
        self.cuda = cuda
        self.stream = cuda.Stream()
        self.context = engine.create_execution_context()
        self.host: dict[str, np.ndarray] = {}
        self.device: dict[str, Any] = {}
        self.output: np.ndarray | None = None

    def buffer(self, name: str, shape: tuple[int, ...], dtype: np.dtype[Any]) -> tuple[np.ndarray, Any]:
        """Pinned host and device buffers for `name`, reallocated only when the size grows."""
        host = self.host.get(name)
        nbytes = int(np.prod(shape)) * dtype.itemsize
        if host is None or host.nbytes < nbytes or host.dtype != dtype:
            host = self.host[name] = self.cuda.pagelocked_empty(int(np.prod(shape)), dtype)
            self.device[name] = self.cuda.mem_alloc(max(nbytes, 1))
        view = host[: int(np.prod(shape))].reshape(shape)
        return view, self.device[name]


class TrtEngine(BackendEngine):
    backend = "trt"

    def __init__(self, card: ModelCard, folder: Path, device_index: int = 0, slots: int = 2) -> None:
        import pycuda.driver as cuda

        from ganstream.engines.trt_build import cuda_device, gpu_target, import_tensorrt

        trt = import_tensorrt()
        plan_cache.check_compatible(card, gpu_target(device_index))
        super().__init__(card, folder, card.precision)
        path = artifacts.require(card, folder, "plan")
        self.cuda = cuda
        self.trt = trt
        self.cuda_context = cuda_device(device_index).retain_primary_context()
        self.device = f"cuda:{device_index} ({card.build.get('gpu_name', '?')})"
        with self._current():
            self.logger = trt.Logger(trt.Logger.WARNING)
            self.runtime = trt.Runtime(self.logger)
            self.engine = self.runtime.deserialize_cuda_engine(path.read_bytes())
            if self.engine is None:
                raise IncompatibleEngineError(
                    f"plan {path} of '{card.name}' could not be deserialised; rebuild it with ganstream engines build"
                )
            names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
            is_input = {n: self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT for n in names}
            self.input_names = [n for n in names if is_input[n]]
            self.output_name = next(n for n in names if not is_input[n])
            self.dtypes = {n: np.dtype(trt.nptype(self.engine.get_tensor_dtype(n))) for n in names}
            expected = sorted(s.name for s in card.inputs)
            if sorted(self.input_names) != expected:
                raise ModelCardError(f"plan of '{card.name}' has inputs {self.input_names}, the card says {expected}")
            self.slots = [_Slot(self.engine, cuda) for _ in range(slots)]
        self._next = 0

    @contextmanager
    def _current(self) -> Iterator[None]:
        """Make this engine's CUDA context current on the calling thread for the block."""
        self.cuda_context.push()
        try:
            yield
        finally:
            self.cuda_context.pop()

    def _submit(self, slot: _Slot, feeds: dict[str, Array]) -> None:
        """Queue H2D copies, the network and the D2H copy on the slot's stream; returns at once."""
        cuda, ctx = self.cuda, slot.context
        for name in self.input_names:
            arr = feeds[name]
            host, dev = slot.buffer(name, arr.shape, self.dtypes[name])
            np.copyto(host, arr, casting="same_kind")
            cuda.memcpy_htod_async(dev, host, slot.stream)
            ctx.set_input_shape(name, arr.shape)
            ctx.set_tensor_address(name, int(dev))
        out_shape = tuple(ctx.get_tensor_shape(self.output_name))
        host_out, dev_out = slot.buffer(self.output_name, out_shape, self.dtypes[self.output_name])
        ctx.set_tensor_address(self.output_name, int(dev_out))
        if not ctx.execute_async_v3(stream_handle=slot.stream.handle):
            raise ModelCardError(f"TensorRT failed to enqueue '{self.card.name}' for shapes {out_shape}")
        cuda.memcpy_dtoh_async(host_out, dev_out, slot.stream)
        slot.output = host_out

    def _collect(self, slot: _Slot) -> npt.NDArray[np.uint8]:
        slot.stream.synchronize()
        assert slot.output is not None
        return np.array(slot.output, dtype=np.uint8, copy=True)

    def _take_slot(self) -> _Slot:
        slot = self.slots[self._next]
        self._next = (self._next + 1) % len(self.slots)
        return slot

    def _run(self, feeds: dict[str, Array]) -> npt.NDArray[np.uint8]:
        with self._current():
            slot = self._take_slot()
            self._submit(slot, feeds)
            return self._collect(slot)

    def infer_many(self, batches: Iterable[tuple[npt.NDArray[np.generic], ...]]) -> Iterator[npt.NDArray[np.uint8]]:
        """Run a sequence of batches with two in flight: yields outputs in order."""
        pending: list[tuple[_Slot, Any]] = []
        for inputs in batches:
            batch = prepare(self.card, inputs, where="trt infer_many")
            ready = None
            with self._current():
                slot = self._take_slot()  # round-robin: the oldest pending batch owns this slot
                if len(pending) == len(self.slots):
                    done_slot, done_batch = pending.pop(0)
                    ready = done_batch.crop(self._collect(done_slot))
                self._submit(slot, batch.feeds)
            pending.append((slot, batch))
            if ready is not None:
                yield ready
        for slot, batch in pending:
            with self._current():
                out = self._collect(slot)
            yield batch.crop(out)

    def close(self) -> None:
        if not self._closed:
            with self._current():
                self.slots = []
                self.__dict__.pop("engine", None)
                self.__dict__.pop("runtime", None)
        super().close()
