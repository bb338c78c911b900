"""Interpolation-style models: several frame inputs plus a timestep, fed by the card's names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ganstream.engines import ModelCard, ShapeError, TensorSpec, load_engine
from ganstream.engines.card import sha256_file

onnx = pytest.importorskip("onnx", reason="building the test graph needs onnx (the train extra)")


def blend_graph(path: Path) -> None:
    """out = round((1 - t) * frame0 + t * frame1): the simplest model with an interp's I/O."""
    from onnx import TensorProto, helper

    frame = ["N", "H", "W", 3]
    nodes = [
        helper.make_node("Cast", ["frame0"], ["a"], to=TensorProto.FLOAT),
        helper.make_node("Cast", ["frame1"], ["b"], to=TensorProto.FLOAT),
        helper.make_node("Reshape", ["t", "shape4"], ["t4"]),
        helper.make_node("Sub", ["b", "a"], ["ba"]),
        helper.make_node("Mul", ["ba", "t4"], ["tba"]),
        helper.make_node("Add", ["a", "tba"], ["mix"]),
        helper.make_node("Round", ["mix"], ["r"]),
        helper.make_node("Cast", ["r"], ["output"], to=TensorProto.UINT8),
    ]
    graph = helper.make_graph(
        nodes,
        "blend",
        [
            helper.make_tensor_value_info("frame0", TensorProto.UINT8, frame),
            helper.make_tensor_value_info("frame1", TensorProto.UINT8, frame),
            helper.make_tensor_value_info("t", TensorProto.FLOAT, ["N", 1]),
        ],
        [helper.make_tensor_value_info("output", TensorProto.UINT8, frame)],
        [helper.make_tensor("shape4", TensorProto.INT64, [4], [-1, 1, 1, 1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


@pytest.fixture(scope="module")
def interp_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("store") / "blend"
    folder.mkdir()
    blend_graph(folder / "model.onnx")
    ModelCard(
        name="blend",
        task="interp",
        window=2,
        # The card's order, not the graph's, is the order of infer's arguments.
        inputs=[TensorSpec("frame0"), TensorSpec("frame1"), TensorSpec("t", "float32", ("N", 1))],
        artifacts={"model.onnx": sha256_file(folder / "model.onnx")},
    ).save(folder)
    return folder


@pytest.mark.parametrize("backend", ["ort", "openvino"])
def test_interp_inputs_follow_the_card(interp_dir: Path, backend: str) -> None:
    eng = load_engine(interp_dir, backend=backend, precision="fp32")
    a = np.full((2, 16, 24, 3), 10, np.uint8)
    b = np.full((2, 16, 24, 3), 110, np.uint8)
    out = eng.infer(a, b, np.array([[0.25], [0.5]], np.float32))
    assert out.shape == (2, 16, 24, 3)
    assert out[0].min() == out[0].max() == 35 and out[1].min() == out[1].max() == 60
    # A scalar t is broadcast over the batch.
    assert eng.infer(a, b, 0.75)[1, 0, 0, 0] == 85


def test_interp_input_errors(interp_dir: Path) -> None:
    eng = load_engine(interp_dir, backend="ort")
    a = np.zeros((1, 16, 16, 3), np.uint8)
    with pytest.raises(ShapeError, match="between 0 and 1"):
        eng.infer(a, a, 1.5)
    with pytest.raises(ShapeError, match="frame1"):
        eng.infer(a, np.zeros((1, 16, 20, 3), np.uint8), 0.5)
    with pytest.raises(ShapeError, match="3 input"):
        eng.infer(a, a)
    with pytest.raises(ShapeError, match="batch"):
        eng.infer(a, a, np.array([0.5, 0.5], np.float32))


def flow_graph(path: Path) -> None:
    """out = clip(frame0 + flow[..., :1]): a per-pixel float input that must follow the frame."""
    from onnx import TensorProto, helper

    nodes = [
        helper.make_node("Cast", ["frame0"], ["a"], to=TensorProto.FLOAT),
        helper.make_node("Slice", ["flow", "starts", "ends", "axes"], ["fx"]),
        helper.make_node("Add", ["a", "fx"], ["s"]),
        helper.make_node("Clip", ["s", "lo", "hi"], ["c"]),
        helper.make_node("Round", ["c"], ["r"]),
        helper.make_node("Cast", ["r"], ["output"], to=TensorProto.UINT8),
    ]
    graph = helper.make_graph(
        nodes,
        "flowadd",
        [
            helper.make_tensor_value_info("frame0", TensorProto.UINT8, ["N", "H", "W", 3]),
            helper.make_tensor_value_info("flow", TensorProto.FLOAT, ["N", "H", "W", 2]),
        ],
        [helper.make_tensor_value_info("output", TensorProto.UINT8, ["N", "H", "W", 3])],
        [
            helper.make_tensor("starts", TensorProto.INT64, [1], [0]),
            helper.make_tensor("ends", TensorProto.INT64, [1], [1]),
            helper.make_tensor("axes", TensorProto.INT64, [1], [3]),
            helper.make_tensor("lo", TensorProto.FLOAT, [], [0.0]),
            helper.make_tensor("hi", TensorProto.FLOAT, [], [255.0]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


def test_per_pixel_side_inputs_are_padded_and_tiled_with_the_frames(tmp_path: Path) -> None:
    from ganstream.engines.card import ShapeLimits

    folder = tmp_path / "flowadd"
    folder.mkdir()
    flow_graph(folder / "model.onnx")
    ModelCard(
        name="flowadd",
        task="restore",
        inputs=[TensorSpec("frame0"), TensorSpec("flow", "float32", ("N", "H", "W", 2))],
        limits=ShapeLimits(multiple_of=8),
        artifacts={"model.onnx": sha256_file(folder / "model.onnx")},
    ).save(folder)
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 200, (1, 30, 45, 3), dtype=np.uint8)
    flow = rng.normal(0, 10, (1, 30, 45, 2)).astype(np.float32)
    want = np.clip(frame + np.round(flow[..., :1]), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(load_engine(folder, backend="ort").infer(frame, flow), want)
    tiled = load_engine(folder, backend="ort", tile=16, tile_overlap=2).infer(frame, flow)
    np.testing.assert_array_equal(tiled, want)
    with pytest.raises(ShapeError, match="flow"):
        load_engine(folder, backend="ort").infer(frame, flow[:, :20])
