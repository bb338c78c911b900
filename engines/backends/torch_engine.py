"""torch backend: the architecture rebuilt from safetensors weights, on CUDA or the CPU.

The GPU path for machines without TensorRT and the reference of parity checks. On CUDA it runs
fp16 (fp32 on request) in channels_last, and replays a CUDA graph per input shape so a frame
costs one graph launch instead of one launch per layer. On the CPU it uses bf16 autocast where
the CPU has native bf16, else fp32. torch is imported only when this backend is opened.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ganstream.engines import artifacts
from ganstream.engines.backends.base import BackendEngine
from ganstream.engines.card import ModelCard
from ganstream.engines.errors import BackendUnavailableError, ModelCardError, OptionError
from ganstream.engines.feed import Array, is_frame_input

PRECISIONS = ("fp32", "fp16", "bf16")


def nvidia_gpu_present() -> bool:
    """A cheap check (no torch import) for an NVIDIA driver with a device node."""
    return Path("/proc/driver/nvidia/version").exists() or Path("/dev/nvidia0").exists()


def unavailable_reason(card: ModelCard, folder: Path, options: dict[str, Any], for_auto: bool = False) -> str | None:
    for mod in ("torch", "safetensors"):
        if importlib.util.find_spec(mod) is None:
            return f"{mod} is not installed (pip install 'ganstream[train]')"
    if card.artifact("safetensors") is None or not card.arch:
        return "the model has no safetensors weights with an arch in its card"
    if len(card.inputs) != 1 and not card.recurrent and card.task != "interp":
        return "the torch backend runs sr, restore (single-frame or recurrent) and interp models; this one is none"
    wants_cuda = str(options.get("device", "cuda" if for_auto else "cpu")).startswith("cuda")
    if wants_cuda:
        if not nvidia_gpu_present():
            return "no NVIDIA GPU here"
        import torch

        if not torch.cuda.is_available():
            return "torch has no CUDA support here"
    return None


def cpu_supports_bf16() -> bool:
    import torch

    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def default_precision(card: ModelCard, folder: Path, options: dict[str, Any] | None = None) -> str:
    device = str((options or {}).get("device", "cpu"))
    if device.startswith("cuda"):
        return "fp16"
    return "bf16" if cpu_supports_bf16() else "fp32"


def _input_kind(spec: Any) -> str:
    """How the torch module takes an input: "image" (uint8 NHWC -> [0, 1] NCHW), "map" (float
    NHWC -> NCHW as it is, e.g. flows in pixels) or "plain" (float, e.g. t of shape (N, 1))."""
    if spec.dtype == "uint8":
        return "image"
    return "map" if len(spec.shape) == 4 else "plain"


def _to_model(x: Any, kind: str, dtype: Any) -> Any:
    if kind == "image":
        return x.permute(0, 3, 1, 2).to(dtype).mul_(1.0 / 255.0)
    if kind == "map":
        return x.permute(0, 3, 1, 2).to(dtype)
    return x.to(dtype)


def create(card: ModelCard, folder: Path, precision: str, **options: Any) -> TorchEngine:
    return TorchEngine(card, folder, precision, **options)


class TorchEngine(BackendEngine):
    backend = "torch"

    def __init__(
        self,
        card: ModelCard,
        folder: Path,
        precision: str = "fp32",
        device: str = "cpu",
        threads: int | None = None,
        cuda_graphs: bool = True,
        **_: Any,
    ) -> None:
        import torch
        from safetensors.torch import load_file

        from ganstream.engines.archs import build_generator

        if precision not in PRECISIONS:
            raise OptionError(f"torch backend runs {', '.join(PRECISIONS)}, not {precision!r}")
        super().__init__(card, folder, precision)
        self.torch = torch
        self.dev = torch.device(device)
        cuda = self.dev.type == "cuda"
        if cuda and not torch.cuda.is_available():
            raise BackendUnavailableError("torch backend: CUDA asked for but torch has no CUDA device here")
        if not cuda and precision == "fp16":
            raise BackendUnavailableError("torch backend: fp16 runs on CUDA only; use bf16 or fp32 on the CPU")
        if not cuda and precision == "bf16" and not cpu_supports_bf16():
            raise BackendUnavailableError("torch backend: this CPU has no native bf16; use fp32")
        if threads and not cuda:
            torch.set_num_threads(threads)
        path = artifacts.require(card, folder, "safetensors")
        try:
            net = build_generator(card.arch)
            net.load_state_dict(load_file(str(path)), strict=True)
        except (RuntimeError, ValueError) as exc:
            raise ModelCardError(
                f"model '{card.name}': weights in {path.name} do not fit arch {card.arch} ({exc})"
            ) from None
        self.dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]
        # On the CPU bf16 runs under autocast (weights stay fp32); on CUDA the weights are cast.
        self.autocast = not cuda and precision == "bf16"
        compute_dtype = self.dtype if cuda else torch.float32
        net = net.eval().to(self.dev, dtype=compute_dtype)
        # channels_last: NHWC uint8 frames permuted to NCHW already have this layout, no copy.
        self.net = net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.compute_dtype = compute_dtype
        # frames, plus a recurrent model's folded previous output (uint8 NHWC with 3 * scale**2 channels)
        # an interp model's every input: frames, warps, t and flows
        fed = [s for s in card.inputs if is_frame_input(s) or card.recurrent or card.task == "interp"]
        self.frame_names = [s.name for s in fed]
        # uint8 inputs are images (scaled to [0, 1]); float NHWC ones are flows (pixels, kept)
        self.input_kinds = [_input_kind(s) for s in fed]
        # every input gets a static buffer, so a recurrent model replays a graph too (tests/gpu);
        # interp models, whose graphs have not run on a GPU yet, run eagerly
        self.use_graphs = cuda and cuda_graphs and (len(card.inputs) == 1 or bool(card.recurrent))
        self._graphs: dict[tuple[tuple[tuple[int, ...], Any], ...], tuple[Any, list[Any], Any]] = {}
        self._pinned: dict[tuple[str, tuple[int, ...], str], Any] = {}
        self.device = str(self.dev) + (" (cuda graphs)" if self.use_graphs else "")
        if cuda:
            torch.backends.cudnn.benchmark = True

    def forward(self, *xs: Any) -> Any:
        """uint8 NHWC tensors on the device -> uint8 NHWC tensor; NHWC permuted is channels_last."""
        torch = self.torch
        ys = [_to_model(x, kind, self.compute_dtype) for x, kind in zip(xs, self.input_kinds, strict=True)]
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.autocast):
            y = self.net(*ys)
        return y.float().mul_(255.0).round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1)

    def _graph_for(self, key: tuple[tuple[tuple[int, ...], Any], ...]) -> tuple[Any, list[Any], Any]:
        """A captured CUDA graph with static input and output buffers for one set of input shapes and dtypes."""
        torch = self.torch
        entry = self._graphs.get(key)
        if entry is None:
            static_ins = [torch.zeros(shape, dtype=dtype, device=self.dev) for shape, dtype in key]
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side), torch.inference_mode():
                for _ in range(3):  # warm up cudnn autotuning before capture
                    self.forward(*static_ins)
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph), torch.inference_mode():
                static_out = self.forward(*static_ins)
            entry = self._graphs[key] = (graph, static_ins, static_out)
        return entry

    def run_tensor(self, *xs: Any) -> Any:
        """Device-resident path: the model's inputs (uint8 NHWC frames, float flows) on this engine's
        device in, a uint8 NHWC tensor out.

        With CUDA graphs the returned tensor is the graph's static output buffer: it is
        overwritten by the next call, so copy it (or consume it) before calling again.
        """
        torch = self.torch
        if self.use_graphs:
            graph, static_ins, static_out = self._graph_for(tuple((tuple(x.shape), x.dtype) for x in xs))
            for buf, x in zip(static_ins, xs, strict=True):
                buf.copy_(x, non_blocking=True)
            graph.replay()
            return static_out
        with torch.inference_mode():
            return self.forward(*xs)

    def _staging(self, role: str, shape: tuple[int, ...], dtype: np.dtype[Any]) -> Any:
        """A pinned host buffer reused for every frame of one shape (allocating pinned memory is slow)."""
        key = (role, shape, dtype.str)
        buf = self._pinned.get(key)
        if buf is None:
            buf = self._pinned[key] = self.torch.from_numpy(np.empty(shape, dtype)).pin_memory()
        return buf

    def _run(self, feeds: dict[str, Array]) -> npt.NDArray[np.uint8]:
        torch = self.torch
        arrays = [feeds[n] for n in self.frame_names]
        if self.dev.type != "cuda":
            return np.ascontiguousarray(self.run_tensor(*(torch.from_numpy(a) for a in arrays)).numpy())
        device_ins = []
        for i, a in enumerate(arrays):
            host_in = self._staging(f"in{i}", a.shape, a.dtype)
            np.copyto(host_in.numpy(), a)
            device_ins.append(host_in.to(self.dev, non_blocking=True))
        out = self.run_tensor(*device_ins)
        host_out = self._staging("out", tuple(out.shape), np.dtype(np.uint8))
        host_out.copy_(out, non_blocking=True)
        torch.cuda.current_stream().synchronize()
        return np.array(host_out.numpy(), copy=True)  # the staging buffer is reused by the next call

    def close(self) -> None:
        self._graphs.clear()
        self._pinned.clear()
        self.__dict__.pop("net", None)
        super().close()
