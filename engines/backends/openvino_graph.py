"""Rewrites of an OpenVINO model before it is compiled for the CPU.

Two jobs, both on the in-memory ``ov.Model`` (never on the shipped ONNX file):

- ``rewrite_prelu_slopes``: per-channel PReLU slopes, so the plugin fuses them into convolutions.
- ``split_at_skip``: reduced precision (bf16, and the float parts of an int8 graph) is a
  property of the network body. The input normalisation, the bicubic skip, the final add, the
  scaling to 0..255 and the rounding must stay f32: in bf16 a value near 1.0 has a step of
  1/256, one full output level, which cost sr2x 2.2 dB on a clean, smooth selection clip
  (coin_pen, 56.2 -> 54.1 dB) and shifted blue by +0.3 levels on an AMX Xeon. Marking those
  nodes with the runtime's ``disable_fp16_compression`` attribute changed nothing there (the CPU
  plugin of OpenVINO 2026.4 ran the skip at bf16 all the same), so the graph is cut in two
  instead: the body, compiled at the reduced precision, ends at the residual that meets the
  skip; the edges, compiled at f32, take the inputs and that residual. The body's own output is
  within 1e-5 of fp32's; the cut restores fp32's PSNR at bf16's speed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

BODY_OUTPUT = "ganstream_body_output"  # the edges' extra input: the residual the body computed
_BODY_OPS = ("Convolution", "GroupConvolution")
_NOT_COMPUTE = ("Parameter", "Constant", "Result")


def rewrite_prelu_slopes(model: Any) -> int:
    """Give PReLU slopes the explicit per-channel shape (1, C, 1, 1); returns how many changed.

    torch's ONNX exporter writes a PReLU slope as (C, 1, 1). The CPU plugin then treats the
    PReLU as a generic broadcast Eltwise: it cannot fuse it into the preceding convolution and
    reorders the tensor layout around it, twice per layer. As (1, C, 1, 1) it is fused as a
    per-channel post-op, which on the compact SR net saves 20-25% (fp32, bf16 and int8 alike)
    with identical output.
    """
    from openvino import opset13

    changed = 0
    for op in model.get_ordered_ops():
        if op.get_type_name() != "PRelu":
            continue
        slope = op.input_value(1).get_node()
        if slope.get_type_name() != "Constant" or op.input_value(0).get_partial_shape().rank.get_length() != 4:
            continue
        shape = list(slope.get_output_shape(0))
        if len(shape) == 3 and shape[1:] == [1, 1]:
            data = slope.get_data().reshape(1, shape[0], 1, 1)
            op.input(1).replace_source_output(opset13.constant(data).output(0))
            changed += 1
    return changed


def _descendants(roots: list[Any]) -> set[str]:
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        node = stack.pop()
        name = node.get_friendly_name()
        if name in seen:
            continue
        seen.add(name)
        for out in node.outputs():
            stack.extend(target.get_node() for target in out.get_target_inputs())
    return seen


def split_at_skip(model: Any) -> tuple[Any, Any] | None:
    """(body, edges): two models cut where the body's residual meets the skip, or None.

    body: the model's inputs -> the residual (one output). edges: the model's inputs plus
    ``BODY_OUTPUT`` -> the model's outputs, with no convolution left in it. None when the graph
    has not exactly one such meeting point with one input from the body (nothing to cut: the
    caller compiles it whole). Call it on a model with static input shapes (``fold_constants``
    first, so the exporter's shape arithmetic is not mistaken for a skip); ``model`` is not changed.
    """
    import openvino as ov
    from openvino import opset13

    body_model, edges_model = model.clone(), model.clone()
    ops = list(edges_model.get_ordered_ops())
    body_ops = {op.get_friendly_name() for op in ops if op.get_type_name() in _BODY_OPS}
    from_body = _descendants([op for op in ops if op.get_type_name() in _BODY_OPS])
    # where the body's output meets a computed path that never went through a convolution
    merges = [
        op
        for op in ops
        if op.get_friendly_name() in from_body
        and op.get_friendly_name() not in body_ops
        and any(
            src.get_node().get_friendly_name() not in from_body
            and src.get_node().get_type_name() not in _NOT_COMPUTE
            and src.get_element_type().is_real()
            for src in op.input_values()
        )
    ]
    if len(merges) != 1:
        return None
    merge = merges[0]
    sides = [i for i, v in enumerate(merge.input_values()) if v.get_node().get_friendly_name() in from_body]
    if len(sides) != 1:
        return None
    side = sides[0]
    residual = merge.input_value(side)
    feed = opset13.parameter(residual.get_partial_shape(), residual.get_element_type(), BODY_OUTPUT)
    feed.output(0).get_tensor().set_names({BODY_OUTPUT})
    merge.input(side).replace_source_output(feed.output(0))
    edges = ov.Model(edges_model.get_results(), [*edges_model.get_parameters(), feed], "edges")
    if any(op.get_type_name() in _BODY_OPS for op in edges.get_ordered_ops()):
        return None  # a convolution outside the body's one output: not the shape this cut is for
    twin = {op.get_friendly_name(): op for op in body_model.get_ordered_ops()}[merge.get_friendly_name()]
    body = ov.Model([opset13.result(twin.input_value(side))], body_model.get_parameters(), "body")
    return body, edges


def fold_constants(model: Any) -> None:
    """Fold shape arithmetic (the exporter's dynamic bias reshapes) once the input shape is static."""
    from openvino.passes import ConstantFolding, Manager

    manager = Manager()
    manager.register_pass(ConstantFolding())
    manager.run_passes(model)


_EXACT_STEPS = ("Transpose", "Convert", "Divide", "Multiply")  # a layout change and a scaling, nothing lossy


def _source_parameter(value: Any) -> Any | None:
    """The Parameter that `value` is computed from through layout changes and scalings only, or
    None (a FakeQuantize on the way, as in an int8 graph, is not the plain input)."""
    node = value.get_node()
    while node.get_type_name() != "Parameter":
        computed = [v for v in node.input_values() if v.get_node().get_type_name() != "Constant"]
        if node.get_type_name() not in _EXACT_STEPS or len(computed) != 1:
            return None
        node = computed[0].get_node()
    return node


def host_skip(edges: Any) -> tuple[str, int] | None:
    """(input name, scale) where the edges' skip is a plain bicubic upscale of one uint8 NHWC input.

    OpenVINO's CPU plugin runs the skip's cubic Interpolate on planar 3-channel f32 slowly (7.9
    ms at 640x360 out on an AMX Xeon, more than the whole bf16 body); OpenCV's INTER_CUBIC is the
    same filter (a = -0.75, half-pixel centres, borders replicated: within 1e-4 levels) in 0.6 ms.
    None for any other kind of skip (a restore model's is the input itself: cheap as it is).
    """
    found = [op for op in edges.get_ordered_ops() if op.get_type_name() == "Interpolate"]
    if len(found) != 1:
        return None
    interp = found[0]
    attrs = interp.get_attributes()
    plain_cubic = (
        attrs.get("mode") == "cubic"
        and attrs.get("coordinate_transformation_mode") == "half_pixel"
        and abs(float(attrs.get("cube_coeff", 0.0)) + 0.75) < 1e-6
        and not attrs.get("antialias", False)
        and not any(attrs.get("pads_begin", [])) and not any(attrs.get("pads_end", []))
    )  # fmt: skip
    source = _source_parameter(interp.input_value(0))
    if not plain_cubic or source is None or source.get_element_type().get_type_name() != "u8":
        return None
    in_shape = list(source.get_output_shape(0))  # N, h, w, C
    out_shape = list(interp.get_output_shape(0))  # N, C, H, W
    if len(in_shape) != 4 or len(out_shape) != 4 or in_shape[3] != out_shape[1]:
        return None
    scale, rest = divmod(out_shape[2], in_shape[1])
    if rest or scale < 2 or out_shape[3] != in_shape[2] * scale:
        return None
    return source.output(0).get_any_name(), scale


class EdgeBuffers:
    """The host edges' work arrays, kept from frame to frame (a stream's shape does not change).

    Fresh 640x360 float arrays for every step cost more than the arithmetic: each one's pages are
    new to the process and fault in on first touch, which tripled the edges' time (6-7 ms against
    2 at 640x360 out on a 2-vCPU Xeon). The output array is reused too: copy it before the next call.
    """

    def __init__(self) -> None:
        self._arrays: dict[tuple[str, tuple[int, ...], str], Any] = {}

    def get(self, role: str, shape: tuple[int, ...], dtype: Any) -> Any:
        key = (role, shape, np.dtype(dtype).str)
        found = self._arrays.get(key)
        if found is None:
            found = self._arrays[key] = np.empty(shape, dtype)
        return found


def host_edges(frames: Any, residual: Any, work: EdgeBuffers | None = None) -> Any:
    """The SR edges on the host: bicubic skip of the uint8 NHWC `frames` plus the body's `residual`
    (N, C, H, W, in units of full scale), rounded half to even and clipped to uint8 NHWC, at f32.

    With `work` the result lives in its buffers (valid until the next call with the same `work`).
    """
    import cv2

    work = work or EdgeBuffers()
    n, c, h, w = residual.shape
    out = work.get("out", (n, h, w, c), np.uint8)
    src = work.get("src", tuple(frames.shape[1:]), np.float32)
    skip = work.get("skip", (h, w, c), np.float32)
    planes = work.get("planes", (h, w, c), np.float32)
    for i in range(n):
        np.copyto(src, frames[i], casting="unsafe")
        cv2.resize(src, (w, h), dst=skip, interpolation=cv2.INTER_CUBIC)
        cv2.merge(list(residual[i]), dst=planes)
        # skip + 255 * residual at f32, then OpenCV's saturating cast: clipped, rounded half to even
        cv2.addWeighted(planes, 255.0, skip, 1.0, 0.0, dst=out[i], dtype=cv2.CV_8U)
    return out
