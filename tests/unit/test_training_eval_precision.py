"""The eval's precision gate: which precision `ganstream run` picks for each model, and a warning
where a candidate would fall back to fp32."""

from __future__ import annotations

import pytest

from ganstream.engines.precision_choice import PrecisionChoice, pick
from ganstream.engines.store import SHIPPED_DIR
from ganstream.training.eval_precision import PrecisionGate, gate_markdown, measure_gates


def gate(model: str, measured: dict[str, dict[str, float]]) -> PrecisionGate:
    best, reason = pick(measured)
    return PrecisionGate(model, PrecisionChoice(best, reason, measured))


def test_a_model_that_fails_the_gate_at_bf16_is_flagged() -> None:
    ok = gate("sr2x", {"fp32": {"ms": 70.0, "drop_db": 0.0}, "bf16": {"ms": 14.0, "drop_db": 0.0}})
    bad = gate("cand", {"fp32": {"ms": 73.0, "drop_db": 0.0}, "bf16": {"ms": 14.5, "drop_db": 0.06}})
    assert ok.choice.precision == "bf16" and not ok.falls_back
    assert bad.choice.precision == "fp32" and bad.falls_back and bad.failed() == ["bf16"]
    text = "\n".join(gate_markdown([ok, bad]))
    assert "- sr2x: **bf16**." in text and "- cand: **fp32**." in text
    assert "Warning: cand would run at fp32 here** (73.0 against 14.5 ms/frame): bf16 lost more than 0.05 dB" in text
    assert "Warning: sr2x" not in text


def test_fp32_chosen_as_the_fastest_is_no_fallback() -> None:
    """int8 within the gate but slower than fp32 (some CPUs): fp32 wins on time, nothing failed."""
    fastest = gate("sr2x", {"fp32": {"ms": 30.0, "drop_db": 0.0}, "int8": {"ms": 35.0, "drop_db": 0.01}})
    assert fastest.choice.precision == "fp32" and not fastest.falls_back
    slow_fail = gate("sr2x", {"fp32": {"ms": 30.0, "drop_db": 0.0}, "int8": {"ms": 35.0, "drop_db": 5.7}})
    assert slow_fail.failed() == ["int8"] and not slow_fail.falls_back  # it would lose on time anyway
    assert "Warning" not in "\n".join(gate_markdown([fastest, slow_fail]))


def test_fp32_alone_is_no_fallback() -> None:
    """A machine without bf16 or int8 measures fp32 only: nothing to warn about."""
    only = PrecisionGate("sr2x", PrecisionChoice("fp32", "the only precision", {}))
    assert not only.falls_back
    assert "Warning" not in "\n".join(gate_markdown([only]))
    assert gate_markdown([]) == []


def test_the_gate_measures_the_shipped_model_as_run_would(monkeypatch: pytest.MonkeyPatch) -> None:
    from ganstream.engines import precision_choice as pc
    from ganstream.engines.backends.openvino_engine import precision_choice

    monkeypatch.setattr(pc, "MEASURE_FRAMES", 2)
    monkeypatch.setattr(pc, "MEASURE_REPEATS", 1)
    folder = SHIPPED_DIR / "sr2x-clean"
    gates = measure_gates({"sr2x-clean": folder})
    assert [g.model for g in gates] == ["sr2x-clean"]
    from ganstream.engines.card import ModelCard

    # the same choice the runtime's loader makes (read back from its cache)
    assert gates[0].choice.precision == precision_choice(ModelCard.load(folder), folder).precision
