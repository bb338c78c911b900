"""The TensorRT plan cache and compatibility check (pure Python: runs without TensorRT)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from ganstream.engines import BackendUnavailableError, IncompatibleEngineError, ModelCard, load_engine
from ganstream.engines import plan_cache as pc
from ganstream.engines.card import sha256_file

H100 = pc.Target("10.13.0", "NVIDIA H100 80GB HBM3", "9.0", "12.8")


def source_card(folder: Path) -> ModelCard:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.onnx").write_bytes(b"not really onnx")
    card = ModelCard(name="sr2x", task="sr", scale=2, artifacts={"model.onnx": sha256_file(folder / "model.onnx")})
    card.save(folder)
    return card


def test_key_changes_with_every_field() -> None:
    base = pc.PlanRequest("abc", "fp16", ((720, 1280),), 1)
    keys = {
        base.key(H100),
        pc.PlanRequest("abd", "fp16", ((720, 1280),), 1).key(H100),
        pc.PlanRequest("abc", "int8", ((720, 1280),), 1).key(H100),
        pc.PlanRequest("abc", "fp16", ((1080, 1920),), 1).key(H100),
        pc.PlanRequest("abc", "fp16", ((720, 1280),), 4).key(H100),
        base.key(pc.Target("10.14.0", H100.gpu_name, "9.0")),
        base.key(pc.Target("10.13.0", "NVIDIA L4", "8.9")),
    }
    assert len(keys) == 7
    # Shape order does not matter: the same set of shapes is the same plan.
    two = pc.PlanRequest("abc", "fp16", ((720, 1280), (360, 640)))
    assert two.key(H100) == pc.PlanRequest("abc", "fp16", ((360, 640), (720, 1280))).key(H100)


def test_write_entry_is_atomic_and_found_again(tmp_path: Path) -> None:
    card = source_card(tmp_path / "model")
    req = pc.PlanRequest(pc.source_sha256(card), "fp16", ((720, 1280),))
    root = tmp_path / "cache"
    assert pc.find_plan(card, req, H100, root) is None

    def failing(path: Path) -> None:
        path.write_bytes(b"half a plan")
        raise RuntimeError("builder crashed")

    with pytest.raises(RuntimeError, match="crashed"):
        pc.write_entry(card, req, H100, failing, root)
    assert list(root.iterdir()) == []  # nothing half-written is left to be loaded later
    folder = pc.write_entry(card, req, H100, lambda p: p.write_bytes(b"plan bytes"), root)
    assert pc.find_plan(card, req, H100, root) == folder
    plan_card = ModelCard.load(folder)
    assert plan_card.artifact("plan") == "model.plan" and plan_card.precision == "fp16"
    assert plan_card.build["gpu_name"] == H100.gpu_name and plan_card.build["shapes"] == [[720, 1280]]
    plan_card.verify_artifact(folder, "model.plan")


def test_incompatible_plan_says_how_to_rebuild(tmp_path: Path) -> None:
    card = source_card(tmp_path / "model")
    req = pc.PlanRequest(pc.source_sha256(card), "fp16", ((720, 1280),))
    folder = pc.write_entry(card, req, H100, lambda p: p.write_bytes(b"plan"), tmp_path / "cache")
    plan_card = ModelCard.load(folder)
    pc.check_compatible(plan_card, H100)
    with pytest.raises(IncompatibleEngineError) as err:
        pc.check_compatible(plan_card, pc.Target("10.13.0", "NVIDIA L4", "8.9"))
    msg = str(err.value)
    assert isinstance(err.value, RuntimeError) and "\n" not in msg
    assert "NVIDIA L4" in msg and "ganstream engines build sr2x --precision fp16 --shape 1280x720" in msg
    with pytest.raises(IncompatibleEngineError, match=r"TensorRT 10\.13\.0"):
        pc.check_compatible(plan_card, pc.Target("11.0.0", H100.gpu_name, "9.0"))


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="TensorRT is installed here")
def test_trt_backend_without_tensorrt_names_the_reason(tmp_path: Path) -> None:
    source_card(tmp_path / "model")
    with pytest.raises(BackendUnavailableError, match="tensorrt is not installed"):
        load_engine(tmp_path / "model", backend="trt")
