"""Benchmarks of the engines: every backend and precision side by side, in one run.

Prints ms/frame, frames/s and the ratio to onnxruntime fp32 measured in the same run, and the
PSNR of each variant's output against the fp32 output on real frames (a clip's frames resized
to the benchmark shape). Never asserts an absolute time.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from ganstream.engines.calib import default_clip, psnr, read_frames
from ganstream.engines.card import ModelCard
from ganstream.engines.errors import EngineError
from ganstream.engines.loader import load_engine
from ganstream.engines.parity import random_inputs
from ganstream.engines.variants import Variant, cpu_variants, edges_ablation, gpu_variants, prelu_ablation


@dataclass
class BenchRow:
    variant: str
    ms_per_frame: float
    fps: float
    ratio: float = float("nan")  # onnxruntime fp32 time / this time: > 1 is faster
    psnr_vs_fp32_db: float = float("nan")
    note: str = ""


def median_seconds(fn: Callable[[], object], warmup: int = 3, iters: int = 20) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def srvgg_gflops(arch: dict[str, Any], height: int, width: int) -> float:
    """Convolution GFLOPs of one SRVGGCompact frame at an input of height x width (2 FLOPs per MAC)."""
    p = arch.get("params", {})
    feat, conv, scale = int(p.get("num_feat", 64)), int(p.get("num_conv", 16)), int(p.get("scale", 4))
    macs_per_px = 9 * (3 * feat + conv * feat * feat + feat * 3 * scale * scale)
    return 2.0 * macs_per_px * height * width / 1e9


def real_batch(card: ModelCard, height: int, width: int, count: int, clip: Path | None) -> list[np.ndarray] | None:
    source = clip or default_clip()
    if source is None or card.inputs[0].dtype != "uint8" or len(card.inputs) != 1:
        return None
    return [f[None] for f in read_frames(source, count=count, size=(height, width))]


def bench_variants(
    folder: Path,
    variants: list[Variant],
    height: int,
    width: int,
    batch: int = 1,
    iters: int = 20,
    clip: Path | None = None,
    quality_frames: int = 8,
    isolate: bool = True,
    per_round: int = 5,
) -> list[BenchRow]:
    """Time each variant and compare its output on real frames with onnxruntime fp32.

    Variants are timed in interleaved rounds (a few calls of each in turn, repeated) so that a
    change in the machine's load during the run hits them all alike; each figure is the median
    of all its calls. With `isolate`, each variant lives in its own Python process with passive
    OpenMP waiting, so one runtime's idle thread pool does not slow the others down.
    """
    card = ModelCard.load(folder)
    frames = real_batch(card, height, width, quality_frames, clip)
    with tempfile.TemporaryDirectory(prefix="ganstream-bench-") as tmp:
        frames_file = ref_file = ""
        if frames is not None:
            ref = load_engine(folder, backend="ort", precision="fp32")
            frames_file, ref_file = str(Path(tmp) / "frames.npy"), str(Path(tmp) / "ref.npy")
            np.save(frames_file, np.concatenate(frames))
            np.save(ref_file, np.concatenate([ref.infer(f) for f in frames]))
            ref.close()
        workers: list[tuple[Variant, _Worker]] = []
        for v in variants:
            job = {
                "folder": str(folder),
                "backend": v.backend,
                "precision": v.precision,
                "options": dict(v.options),
                "shape": [height, width, batch],
                "frames": frames_file,
                "ref": ref_file,
            }
            workers.append((v, _ProcessWorker(job) if isolate else _LocalWorker(job)))
        try:
            rows = _measure_all(workers, batch, iters, per_round)
        finally:
            for _, w in workers:
                w.close()
    base = next((r.ms_per_frame for r in rows if r.variant == "ort fp32"), float("nan"))
    for r in rows:
        r.ratio = base / r.ms_per_frame
    return rows


def _measure_all(workers: list[tuple[Variant, _Worker]], batch: int, iters: int, per_round: int) -> list[BenchRow]:
    errors = {v.label: w.error for v, w in workers if w.error}
    live = [(v, w) for v, w in workers if not w.error]
    times: dict[str, list[float]] = {v.label: [] for v, _ in live}
    for _ in range(max(1, -(-iters // per_round))):
        for v, w in live:
            times[v.label] += w.call({"op": "time", "iters": per_round})["times"]
    rows = []
    for v, w in workers:
        if v.label in errors:
            rows.append(BenchRow(v.label, float("nan"), float("nan"), note=errors[v.label]))
            continue
        sec = statistics.median(times[v.label])
        quality = float(w.call({"op": "psnr"})["psnr"])
        rows.append(BenchRow(v.label, 1000 * sec / batch, batch / sec, psnr_vs_fp32_db=quality))
    return rows


class _LocalWorker:
    """One variant's engine in this process, answering the worker protocol's requests."""

    def __init__(self, job: dict[str, Any]) -> None:
        self.job = job
        self.error = ""
        folder = Path(job["folder"])
        height, width, batch = job["shape"]
        try:
            self.engine = load_engine(folder, backend=job["backend"], precision=job["precision"], **job["options"])
        except EngineError as exc:
            self.error = str(exc)
            return
        self.inputs = random_inputs(ModelCard.load(folder), height, width, batch, seed=0)
        for _ in range(3):  # warm-up: compilation, allocator, caches
            self.engine.infer(*self.inputs)

    def call(self, msg: dict[str, Any]) -> dict[str, Any]:
        if msg["op"] == "time":
            out = []
            for _ in range(int(msg["iters"])):
                t0 = time.perf_counter()
                self.engine.infer(*self.inputs)
                out.append(time.perf_counter() - t0)
            return {"times": out}
        if not self.job["frames"]:
            return {"psnr": float("nan")}
        frames, ref = np.load(self.job["frames"]), np.load(self.job["ref"])
        got = [min(psnr(self.engine.infer(f[None])[0], r), 99.0) for f, r in zip(frames, ref, strict=True)]
        return {"psnr": float(np.mean(got))}

    def close(self) -> None:
        if not self.error:
            self.engine.close()


class _ProcessWorker:
    """The same, in a child process (``python -m ganstream.engines.bench JOB``), JSON lines over pipes."""

    def __init__(self, job: dict[str, Any]) -> None:
        env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ganstream.engines.bench", json.dumps(job)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        first = self._read()
        self.error = str(first.get("error", ""))

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        while True:
            line = self.proc.stdout.readline()
            if not line:
                err = self.proc.stderr.read() if self.proc.stderr else ""
                tail = (err.strip().splitlines() or ["no output"])[-1]
                return {"error": f"worker failed: {tail}"}
            if line.startswith("{"):  # runtimes may print progress lines of their own
                reply: dict[str, Any] = json.loads(line)
                return reply

    def call(self, msg: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()
        reply = self._read()
        if "error" in reply:
            raise EngineError(f"benchmark worker: {reply['error']}")
        return reply

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


_Worker = _LocalWorker | _ProcessWorker


def _serve(job: dict[str, Any]) -> None:
    """The child side: load the variant, say ready (or why not), then answer requests until EOF."""
    worker = _LocalWorker(job)
    print(json.dumps({"error": worker.error} if worker.error else {"ready": True}), flush=True)
    if worker.error:
        return
    for line in sys.stdin:
        print(json.dumps(worker.call(json.loads(line))), flush=True)
    worker.close()


def format_table(rows: list[BenchRow], title: str) -> str:
    lines = [title, f"{'backend precision':<26}{'ms/frame':>10}{'frames/s':>10}{'vs ort fp32':>13}{'PSNR vs fp32':>14}"]
    for r in rows:
        psnr_txt = "" if r.psnr_vs_fp32_db != r.psnr_vs_fp32_db else f"{r.psnr_vs_fp32_db:.2f} dB"
        if r.note:
            lines.append(f"{r.variant:<26}  failed: {r.note}")
            continue
        lines.append(f"{r.variant:<26}{r.ms_per_frame:>10.1f}{r.fps:>10.1f}{r.ratio:>12.2f}x{psnr_txt:>14}")
    return "\n".join(lines)


def cpu_report(
    folder: Path,
    height: int,
    width: int,
    batch: int = 1,
    iters: int = 20,
    clip: Path | None = None,
    prelu: bool = False,
    threads: int | None = None,
    edges: bool = False,
) -> str:
    """Every CPU variant side by side; `prelu` adds OpenVINO with PReLU slopes as exported, `edges`
    reduced-precision OpenVINO with its graph uncut; `threads` caps each backend's threads (None:
    every CPU this process may use)."""
    card = ModelCard.load(folder)
    variants, skipped = cpu_variants(card, folder)
    if prelu:
        variants = prelu_ablation(variants)
    if edges:
        variants = edges_ablation(variants)
    variants = with_threads(variants, threads)
    rows = bench_variants(folder, variants, height, width, batch, iters, clip)
    from ganstream.engines.precision_choice import cpu_model

    title = f"{card.name} ({card.task} x{card.scale}) at {width}x{height} in, batch {batch}, CPU: {cpu_model()}"
    text = format_table(rows, title)
    return text + "".join(f"\n  not run: {s}" for s in skipped)


CPU_BACKENDS = ("openvino", "ort", "torch")  # the backends that take `threads` (torch on a CPU only)


def with_threads(variants: list[Variant], threads: int | None) -> list[Variant]:
    """`variants` with CPU backends held to `threads` threads (None: unchanged).

    On a machine where something else holds a core (a training job), two threads time the
    scheduler more than the graph; one thread each compares graphs fairly.
    """
    if threads is None:
        return variants
    return [
        replace(v, options=(*v.options, ("threads", threads))) if v.backend in CPU_BACKENDS else v for v in variants
    ]


def gpu_report(folder: Path, height: int, width: int, batch: int = 1, iters: int = 50) -> str:
    """torch CUDA fp16 (engine alone vs with copies, TFLOP/s) and TensorRT, with H2D/D2H GB/s."""
    card = ModelCard.load(folder)
    variants, skipped = gpu_variants(card, folder, [(height, width)])
    lines = [f"{card.name} at {width}x{height} in, batch {batch}, GPU"]
    gflop = srvgg_gflops(card.arch, height, width) * batch if card.arch.get("name") == "srvgg" else float("nan")
    inputs = random_inputs(card, height, width, batch, seed=0)
    for v in variants:
        eng = load_engine(folder, backend=v.backend, precision=v.precision, **dict(v.options))
        with_copies = median_seconds(partial(eng.infer, *inputs), iters=iters)
        line = (
            f"{v.label:<12} with copies {1000 * with_copies / batch:8.2f} ms/frame {batch / with_copies:8.1f} frames/s"
        )
        if v.backend == "torch":
            import torch

            xs = [torch.from_numpy(a).cuda() for a in inputs]

            def alone(e: Any = eng, xs: Any = xs) -> None:
                e.run_tensor(*xs)
                torch.cuda.synchronize()

            sec = median_seconds(alone, iters=iters)
            line += (
                f" | engine alone {1000 * sec / batch:8.2f} ms/frame {batch / sec:8.1f} frames/s"
                f" | copies cost {with_copies / sec:.2f}x | {gflop / sec / 1000:.1f} TFLOP/s"
            )
        if v.backend == "trt":  # two batches in flight: copies overlap compute

            def pipelined(e: Any = eng, k: int = 16) -> None:
                for _ in e.infer_many([tuple(inputs)] * k):
                    pass

            sec = median_seconds(pipelined, warmup=1, iters=max(3, iters // 16)) / 16
            line += f" | two in flight {1000 * sec / batch:8.2f} ms/frame {batch / sec:8.1f} frames/s"
        lines.append(line)
        eng.close()
    if variants:  # a GPU backend ran, so CUDA is here: measure the copies and the card's peak too
        lines.append(copy_bandwidth(inputs[0].nbytes, inputs[0].nbytes * card.scale**2))
        lines.append(f"measured fp16 peak (8192^2 matmul): {fp16_peak_tflops():.0f} TFLOP/s")
    else:
        lines.append("no GPU backend can run here")
    return "\n".join(lines + [f"  not run: {s}" for s in skipped])


def fp16_peak_tflops(n: int = 8192, iters: int = 20) -> float:
    """The GPU's dense fp16 matmul rate: the ceiling the TFLOP/s of a model is compared with."""
    import torch

    a = torch.randn(n, n, device="cuda", dtype=torch.float16)
    b = torch.randn(n, n, device="cuda", dtype=torch.float16)

    def mm() -> None:
        torch.mm(a, b)
        torch.cuda.synchronize()

    return 2.0 * n**3 / median_seconds(mm, iters=iters) / 1e12


def copy_bandwidth(h2d_bytes: int, d2h_bytes: int, iters: int = 50) -> str:
    """Pinned host <-> device copy rates for buffers of a frame batch's size."""
    import torch

    host_in = torch.empty(h2d_bytes, dtype=torch.uint8, pin_memory=True)
    host_out = torch.empty(d2h_bytes, dtype=torch.uint8, pin_memory=True)
    dev_in = torch.empty(h2d_bytes, dtype=torch.uint8, device="cuda")
    dev_out = torch.empty(d2h_bytes, dtype=torch.uint8, device="cuda")

    def h2d() -> None:
        dev_in.copy_(host_in, non_blocking=True)
        torch.cuda.synchronize()

    def d2h() -> None:
        host_out.copy_(dev_out, non_blocking=True)
        torch.cuda.synchronize()

    up, down = median_seconds(h2d, iters=iters), median_seconds(d2h, iters=iters)
    return (
        f"copies: H2D {h2d_bytes / up / 1e9:.1f} GB/s ({h2d_bytes} B), "
        f"D2H {d2h_bytes / down / 1e9:.1f} GB/s ({d2h_bytes} B)"
    )


if __name__ == "__main__":  # a benchmark worker: python -m ganstream.engines.bench JOB_JSON
    _serve(json.loads(sys.argv[1]))
