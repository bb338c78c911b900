"""Building TensorRT plans from ONNX with the TensorRT 10 Python API.

One optimisation profile spans the requested frame shapes (opt = the first) and batch 1..N; a
timing cache shared by all builds on this GPU and TensorRT version makes rebuilds take seconds;
precision fp16 / bf16 set the builder flags where the version still has them (strongly typed
builds ignore them); int8 uses the model's NNCF-quantized graph when it has one (explicit
quantization, calibrated on real frames), else TensorRT's entropy calibrator fed with real
frames of a clip. The plan is written into the plan cache atomically.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ganstream.engines import artifacts, plan_cache
from ganstream.engines.calib import Frame, model_inputs
from ganstream.engines.card import ModelCard
from ganstream.engines.errors import BackendUnavailableError, EngineError, ShapeError
from ganstream.engines.feed import is_spatial_input

log = logging.getLogger(__name__)
BUILD_PRECISIONS = ("fp32", "fp16", "bf16", "int8")


def import_tensorrt() -> Any:
    try:
        import tensorrt as trt
    except ImportError as exc:
        raise BackendUnavailableError(f"TensorRT is not installed: pip install 'ganstream[gpu]' ({exc})") from None
    return trt


def cuda_device(index: int = 0) -> Any:
    """The pycuda device (initialising the driver API once)."""
    try:
        import pycuda.driver as cuda
    except ImportError as exc:
        raise BackendUnavailableError(f"pycuda is not installed: pip install 'ganstream[gpu]' ({exc})") from None
    cuda.init()
    if index >= cuda.Device.count():
        raise BackendUnavailableError(f"no CUDA device {index} (this machine has {cuda.Device.count()})")
    return cuda.Device(index)


def gpu_target(index: int = 0) -> plan_cache.Target:
    """TensorRT version and GPU identity of this machine: the compatibility key of a plan."""
    import pycuda.driver as cuda

    trt = import_tensorrt()
    dev = cuda_device(index)
    major, minor = dev.compute_capability()
    return plan_cache.Target(
        tensorrt_version=str(trt.__version__),
        gpu_name=str(dev.name()),
        compute_capability=f"{major}.{minor}",
        cuda_version=".".join(str(v) for v in cuda.get_version()),
    )


def _profile_dims(card: ModelCard, shapes: list[tuple[int, int]], max_batch: int) -> dict[str, tuple[Any, Any, Any]]:
    """min / opt / max dims for every input of the card, spanning the requested frame shapes."""
    m = card.limits.multiple_of
    padded = [(-(-h // m) * m, -(-w // m) * m) for h, w in shapes]
    for (h, w), (ph, pw) in zip(shapes, padded, strict=True):
        problem = card.limits.check(ph, pw)
        if problem:
            raise ShapeError(f"cannot build '{card.name}' for {w}x{h}: {problem}")
    hmin, wmin = min(h for h, _ in padded), min(w for _, w in padded)
    hmax, wmax = max(h for h, _ in padded), max(w for _, w in padded)
    (hopt, wopt) = padded[0]
    dims: dict[str, tuple[Any, Any, Any]] = {}
    for spec in card.inputs:
        if is_spatial_input(spec):  # frames and per-pixel inputs such as flows
            c = spec.shape[3] if isinstance(spec.shape[3], int) else 3
            dims[spec.name] = ((1, hmin, wmin, c), (max_batch, hopt, wopt, c), (max_batch, hmax, wmax, c))
        else:
            rest = tuple(1 for _ in spec.shape[1:])
            dims[spec.name] = ((1, *rest), (max_batch, *rest), (max_batch, *rest))
    return dims


def _entropy_calibrator(trt: Any, batches: list[np.ndarray], cache_file: Path) -> Any:
    """An IInt8EntropyCalibrator2 that feeds real frames (uint8 NHWC, batch 1) to the network."""
    import pycuda.driver as cuda

    class FrameCalibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self) -> None:
            trt.IInt8EntropyCalibrator2.__init__(self)
            self.batches: Iterator[np.ndarray] = iter(batches)
            self.device = cuda.mem_alloc(max(b.nbytes for b in batches))

        def get_batch_size(self) -> int:
            return 1

        def get_batch(self, names: list[str]) -> list[int] | None:
            batch = next(self.batches, None)
            if batch is None:
                return None
            cuda.memcpy_htod(self.device, np.ascontiguousarray(batch))
            return [int(self.device)]

        def read_calibration_cache(self) -> bytes | None:
            return cache_file.read_bytes() if cache_file.is_file() else None

        def write_calibration_cache(self, cache: Any) -> None:
            cache_file.write_bytes(bytes(cache))

    return FrameCalibrator()


def build_plan(
    card: ModelCard,
    folder: Path,
    precision: str,
    shapes: list[tuple[int, int]],
    max_batch: int = 1,
    calib_frames: list[Frame] | None = None,
    device_index: int = 0,
    workspace_gib: float = 4.0,
    root: Path | None = None,
) -> Path:
    """Build (or find) the plan for these shapes and precision; returns its cache folder."""
    if precision not in BUILD_PRECISIONS:
        raise EngineError(f"TensorRT builds {', '.join(BUILD_PRECISIONS)}, not {precision!r}")
    if not shapes:
        raise ShapeError(f"cannot build '{card.name}': give at least one --shape WxH")
    trt = import_tensorrt()
    target = gpu_target(device_index)
    qdq = precision == "int8" and artifacts.onnx_name(card, int8=True) is not None
    onnx_path = artifacts.require(card, folder, "onnx", int8=qdq)
    request = plan_cache.PlanRequest(
        plan_cache.source_sha256(card, int8_graph=qdq), precision, tuple(shapes), max_batch
    )
    found = plan_cache.find_plan(card, request, target, root)
    if found is not None:
        return found
    if precision == "int8" and not qdq and not calib_frames:
        raise EngineError(f"int8 build of '{card.name}' needs calibration frames (--calib CLIP) or an int8 ONNX graph")
    log.warning("building TensorRT %s plan for '%s' at %s: this takes a minute or two", precision, card.name, shapes)

    def write_plan(path: Path) -> None:
        ctx = cuda_device(device_index).retain_primary_context()
        ctx.push()
        try:
            path.write_bytes(
                _build_serialized(
                    trt, card, onnx_path, precision, qdq, shapes, max_batch, calib_frames, workspace_gib, target, root
                )
            )
        finally:
            ctx.pop()

    return plan_cache.write_entry(card, request, target, write_plan, root)


def _build_serialized(
    trt: Any,
    card: ModelCard,
    onnx_path: Path,
    precision: str,
    qdq: bool,
    shapes: list[tuple[int, int]],
    max_batch: int,
    calib_frames: list[Frame] | None,
    workspace_gib: float,
    target: plan_cache.Target,
    root: Path | None,
) -> bytes:
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # explicit batch is the only mode in TensorRT 10
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise EngineError(f"TensorRT cannot parse {onnx_path.name} of '{card.name}': {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gib * (1 << 30)))
    flags = {"fp16": ["FP16"], "bf16": ["BF16"], "int8": ["INT8", "FP16"], "fp32": []}[precision]
    for flag in flags:
        if hasattr(trt.BuilderFlag, flag):  # newer versions drop the weak-typing flags
            config.set_flag(getattr(trt.BuilderFlag, flag))
    profile = builder.create_optimization_profile()
    for name, (lo, opt, hi) in _profile_dims(card, shapes, max_batch).items():
        profile.set_shape(name, lo, opt, hi)
    config.add_optimization_profile(profile)
    root_dir = root or plan_cache.cache_root()
    root_dir.mkdir(parents=True, exist_ok=True)
    timing_file = root_dir / f"timing-{target.tensorrt_version}-{target.gpu_name.replace(' ', '_')}.cache"
    timing = config.create_timing_cache(timing_file.read_bytes() if timing_file.is_file() else b"")
    config.set_timing_cache(timing, ignore_mismatch=False)
    if precision == "int8" and not qdq:
        if not hasattr(trt, "IInt8EntropyCalibrator2"):
            raise EngineError(f"this TensorRT has no calibrator: build the int8 ONNX graph of '{card.name}' first")
        assert calib_frames is not None
        h, w = shapes[0]
        frames = model_inputs(calib_frames, card.task, card.scale)
        import cv2

        batches = [cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA)[None] for f in frames]
        config.int8_calibrator = _entropy_calibrator(trt, batches, root_dir / f"{card.name}-int8.calib")
        config.set_calibration_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise EngineError(f"TensorRT failed to build '{card.name}' ({precision}, {shapes}); run with -vv for its log")
    tmp = timing_file.with_name(timing_file.name + ".tmp")
    tmp.write_bytes(bytes(config.get_timing_cache().serialize()))
    tmp.replace(timing_file)
    return bytes(serialized)
