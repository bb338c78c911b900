"""Every (backend, precision) pair that can run a model on this machine."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganstream.engines import artifacts
from ganstream.engines.card import ModelCard
from ganstream.engines.loader import backend_unavailable_reason


@dataclass(frozen=True)
class Variant:
    backend: str
    precision: str
    options: tuple[tuple[str, Any], ...] = ()
    tag: str = ""  # tells apart two variants of one backend and precision

    @property
    def label(self) -> str:
        return f"{self.backend} {self.precision}" + (f" {self.tag}" if self.tag else "")


def cpu_variants(card: ModelCard, folder: Path) -> tuple[list[Variant], list[str]]:
    """CPU variants that can run here, and a line for each one that cannot (with the reason)."""
    wanted = [
        ("ort", "fp32"),
        ("ort", "int8"),
        ("torch", "fp32"),
        ("torch", "bf16"),
        ("openvino", "fp32"),
        ("openvino", "bf16"),
        ("openvino", "int8"),
    ]
    has_int8 = artifacts.onnx_name(card, int8=True) is not None
    out: list[Variant] = []
    skipped: list[str] = []
    for backend, precision in wanted:
        reason = backend_unavailable_reason(backend, card, folder, {"device": "cpu"})
        if reason is None and precision == "int8" and not has_int8:
            reason = f"no int8 graph (ganstream engines build {card.name} --precision int8)"
        if reason is None and precision == "bf16" and not _cpu_bf16(backend):
            reason = "this CPU has no native bf16"
        if reason is None:
            out.append(Variant(backend, precision, (("device", "cpu"),)))
        else:
            skipped.append(f"{backend} {precision}: {reason}")
    return out, skipped


def gpu_variants(card: ModelCard, folder: Path, shapes: list[tuple[int, int]]) -> tuple[list[Variant], list[str]]:
    out: list[Variant] = []
    skipped: list[str] = []
    for backend, precision in (("torch", "fp16"), ("trt", "fp16"), ("trt", "int8")):
        opts: dict[str, Any] = {"device": "cuda", "shapes": shapes}
        reason = backend_unavailable_reason(backend, card, folder, opts)
        if reason is None:
            out.append(Variant(backend, precision, tuple(opts.items())))
        else:
            skipped.append(f"{backend} {precision}: {reason}")
    return out, skipped


def _cpu_bf16(backend: str) -> bool:
    if backend == "torch":
        from ganstream.engines.backends.torch_engine import cpu_supports_bf16

        return cpu_supports_bf16()
    from ganstream.engines.backends.openvino_engine import cpu_supports_bf16 as ov_bf16

    return ov_bf16()


def prelu_ablation(variants: list[Variant]) -> list[Variant]:
    """Each OpenVINO variant twice: PReLU slopes rewritten per-channel (default) and as exported."""
    out: list[Variant] = []
    for v in variants:
        out.append(v)
        if v.backend == "openvino":
            out.append(Variant(v.backend, v.precision, (*v.options, ("per_channel_prelu", False)), "as-exported"))
    return out


def edges_ablation(variants: list[Variant]) -> list[Variant]:
    """Each reduced-precision OpenVINO variant twice: the graph cut so its edges run at f32
    (default) and whole, the skip and rounding at the body's precision."""
    out: list[Variant] = []
    for v in variants:
        out.append(v)
        if v.backend == "openvino" and v.precision != "fp32":
            out.append(Variant(v.backend, v.precision, (*v.options, ("f32_edges", False)), "uncut"))
    return out
