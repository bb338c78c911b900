"""`ganstream eval --record`: the figures, per clip, go into the model's card."""

from __future__ import annotations

import shutil
from pathlib import Path

from ganstream.engines import ModelCard
from ganstream.engines.store import SHIPPED_DIR
from ganstream.training.evaluate import Row, record_in_card


def test_the_card_gets_every_clip_of_the_split(tmp_path: Path) -> None:
    folder = tmp_path / "sr2x"
    shutil.copytree(SHIPPED_DIR / "sr2x", folder)
    rows = [
        Row("sr x2", "clean (area)", "bicubic", 30.0, 0.9, 1.0, 1.0),
        Row(
            "sr x2", "clean (area)", "sr2x", 31.0, 0.9, 1.0, 5.0, 1.0,
            per_clip={"a": 31.5, "b": 30.5}, per_clip_delta={"a": 1.5, "b": -0.02}, bias=(0.01, 0.02, -0.01),
        ),
    ]  # fmt: skip
    record_in_card(folder, rows, "test", "auto")
    got = ModelCard.load(folder).metrics["eval_test"]
    assert got["reference"] == "bicubic" and got["residual_gain"] == "auto"
    clean = got["sets"]["clean (area)"]
    assert clean["per_clip_vs_reference_db"] == {"a": 1.5, "b": -0.02}
    assert clean["worst_clip_vs_reference_db"] == -0.02 and clean["colour_bias_rgb"] == [0.01, 0.02, -0.01]
    ModelCard.load(folder).verify_artifact(folder, "model.onnx")  # the artifacts are untouched


def test_the_card_gets_the_items_under_the_floor(tmp_path: Path) -> None:
    folder = tmp_path / "sr2x"
    shutil.copytree(SHIPPED_DIR / "sr2x", folder)
    rows = [
        Row("sr x2", "clean (area)", "bicubic", 30.3, 0.9, 1.0, 1.0, per_clip={"a": 30.0, "b": 30.6}),
        Row("sr x2", "clean (area)", "sr2x", 31.0, 0.9, 1.0, 5.0, 0.7, per_clip={"a": 31.5, "b": 30.5}),
    ]
    record_in_card(folder, rows, "test", "auto")
    floors = ModelCard.load(folder).metrics["eval_test"]["sets"]["clean (area)"]["floors"]
    assert floors == {"bicubic": {"items_under": 1, "items": 2, "worst_db": -0.1, "worst_item": "b"}}
