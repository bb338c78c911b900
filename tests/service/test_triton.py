"""Triton: the exported model repository's structure; the backend against a server only if one answers."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

from ganstream.engines.card import ModelCard, ShapeLimits, TensorSpec, sha256_file
from ganstream.engines.errors import BackendUnavailableError
from ganstream.engines.triton.export import export_model_repository, render_config
from tests.helpers import run_cli


@pytest.fixture
def model(tmp_path: Path) -> Path:
    """A model folder with a (tiny, valid-looking) ONNX file: export copies, it does not run it."""
    folder = tmp_path / "store" / "tiny-sr2x"
    folder.mkdir(parents=True)
    (folder / "model.onnx").write_bytes(b"onnx-bytes-for-the-copy-test")
    ModelCard(
        name="tiny-sr2x",
        task="sr",
        scale=2,
        inputs=[TensorSpec("input")],
        outputs=[TensorSpec("output")],
        limits=ShapeLimits(),
        artifacts={"model.onnx": sha256_file(folder / "model.onnx")},
    ).save(folder)
    return folder


def _field(text: str, key: str) -> str:
    m = re.search(rf"^\s*{key}:\s*(.+)$", text, re.M)
    assert m, f"{key} missing from config.pbtxt"
    return m.group(1).strip()


def test_export_writes_a_versioned_model_with_dynamic_batching(model: Path, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    target = export_model_repository(str(model), repo, version=3, max_batch=16)
    assert target == repo / "tiny-sr2x"
    assert sha256_file(target / "3" / "model.onnx") == sha256_file(model / "model.onnx")
    assert ModelCard.load(target).name == "tiny-sr2x"
    text = (target / "config.pbtxt").read_text()
    assert _field(text, "name") == '"tiny-sr2x"'
    assert _field(text, "platform") == '"onnxruntime_onnx"'
    assert _field(text, "max_batch_size") == "16"
    assert re.search(r'input \[\s*\{\s*name: "input"\s*data_type: TYPE_UINT8\s*dims: \[ -1, -1, 3 \]', text)
    assert re.search(r'output \[\s*\{\s*name: "output"\s*data_type: TYPE_UINT8\s*dims: \[ -1, -1, 3 \]', text)
    assert re.search(
        r"dynamic_batching \{\s*preferred_batch_size: \[ 8, 16 \]\s*max_queue_delay_microseconds: 2000", text
    )
    assert text.count("{") == text.count("}") and text.count("[") == text.count("]")


def test_interp_side_input_and_bad_cards() -> None:
    card = ModelCard(
        name="interp", task="interp", window=2,
        inputs=[TensorSpec("frame0"), TensorSpec("frame1"), TensorSpec("t", "float32", ("N", 1))],
    )  # fmt: skip
    text = render_config(card, max_batch=4)
    assert re.search(r'name: "t"\s*data_type: TYPE_FP32\s*dims: \[ 1 \]', text)
    with pytest.raises(ValueError, match="no leading batch axis"):
        render_config(ModelCard(name="x", task="sr", scale=2, inputs=[TensorSpec("input", shape=("H", "W", 3))]))


def test_export_cli(model: Path, tmp_path: Path) -> None:
    proc = run_cli("engines", "export-triton", str(model), "--repo", str(tmp_path / "r"), "--cpu", check=True)
    assert "tritonserver --model-repository" in proc.stdout
    assert "kind: KIND_CPU" in (tmp_path / "r" / "tiny-sr2x" / "config.pbtxt").read_text()


def test_backend_needs_a_url(model: Path) -> None:
    pytest.importorskip("tritonclient.grpc", reason="tritonclient is not installed (pip install 'ganstream[triton]')")
    from ganstream.engines import load_engine

    with pytest.raises(BackendUnavailableError, match="no Triton server given"):
        load_engine(str(model), backend="triton")


def test_backend_against_a_real_server(model: Path) -> None:
    """Runs only where GANSTREAM_TRITON_URL names a live server holding the exported tiny-sr2x."""
    url = os.environ.get("GANSTREAM_TRITON_URL")
    if not url:
        pytest.skip("no Triton server here: set GANSTREAM_TRITON_URL=host:port to run this test")
    pytest.importorskip("tritonclient.grpc", reason="tritonclient is not installed")
    from ganstream.engines import load_engine

    engine = load_engine(str(model), backend="triton", url=url)
    out = engine.infer(np.zeros((2, 32, 48, 3), np.uint8))
    assert out.shape == (2, 64, 96, 3)
