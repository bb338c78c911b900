"""The precision `ganstream run` would run each evaluated model at on this machine (the eval's gate).

The eval scores candidates at fp32, but `ganstream run` runs the fastest precision whose worst
frame stays within 0.05 dB of fp32 (``engines.precision_choice``). A candidate that gains a
hundredth of a dB at fp32 and then fails that gate at bf16 would run at fp32 on every bf16
machine: several times slower than the model it replaces. So the eval measures (or reads from
the cache) each model's choice and prints it beside the table, with a warning where a model
would fall back to fp32 although a reduced precision runs here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from ganstream.engines.card import ModelCard
from ganstream.engines.precision_choice import QUALITY_GATE_DB, PrecisionChoice

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PrecisionGate:
    model: str
    choice: PrecisionChoice

    def failed(self) -> list[str]:
        """The reduced precisions that lost more than the gate on their worst frame."""
        return [p for p, m in self.choice.measured.items() if p != "fp32" and m["drop_db"] > QUALITY_GATE_DB]

    @property
    def falls_back(self) -> bool:
        """fp32 because a faster reduced precision failed the quality gate (not because fp32 was fastest)."""
        fp32_ms = self.choice.measured.get("fp32", {}).get("ms")
        return (
            self.choice.precision == "fp32"
            and fp32_ms is not None
            and any(self.choice.measured[p]["ms"] < fp32_ms for p in self.failed())
        )


def measure_gates(folders: dict[str, Path]) -> list[PrecisionGate]:
    """Each model's OpenVINO precision on this machine, as `ganstream run` chooses it (cached)."""
    from ganstream.engines.backends.openvino_engine import precision_choice

    gates = []
    for name, folder in folders.items():  # sr and restore models: interpolation has its own eval
        try:
            gates.append(PrecisionGate(name, precision_choice(ModelCard.load(folder), folder)))
        except Exception as exc:  # the table stands without this line; say why it is missing
            log.warning("model '%s': its precision choice could not be measured: %s", name, exc)
    return gates


def gate_markdown(gates: list[PrecisionGate]) -> list[str]:
    """Markdown lines: one per model, and a warning for each that would run at fp32."""
    if not gates:
        return []
    lines = ["", "Precision `ganstream run` picks on this machine (openvino; worst frame against fp32):", ""]
    for g in gates:
        lines.append(f"- {g.model}: **{g.choice.precision}**. {g.choice.reason}")
    for g in gates:
        if g.falls_back:
            fp32 = g.choice.measured["fp32"]["ms"]
            fastest = min(g.choice.measured[p]["ms"] for p in g.failed())
            lines += [
                "",
                f"**Warning: {g.model} would run at fp32 here** ({fp32:.1f} against {fastest:.1f} ms/frame): "
                f"{', '.join(g.failed())} lost more than {QUALITY_GATE_DB} dB on its worst frame. "
                "A candidate that does this is not shipped on its fp32 figures (docs/training.md).",
            ]
    return lines
