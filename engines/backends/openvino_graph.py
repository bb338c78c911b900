"""Rewrites of an OpenVINO model before it is compiled for the CPU.

Two jobs, both on the in-memory ``ov.Model`` (never on the shipped ONNX file):

- ``rewrite_prelu_slopes``: per-channel PReLU slopes, so the plugin fuses them into convolutions.
- ``keep_edges_at_f32``: reduced precision (bf16, and the float parts of an int8 graph) is a
  property of the network body. The input normalisation, the bicubic skip, the final add, the
  scaling to 0..255 and the rounding stay f32: in bf16 a value near 1.0 has a step of 1/256, one
  full output level, which cost sr2x 0.3 dB on clean, smooth frames. The runtime's documented way
  is the ``disable_fp16_compression`` runtime attribute, which the CPU plugin honours for every
  reduced inference precision.
"""

from __future__ import annotations

from typing import Any

# The runtime-info key OpenVINO reads from Python (``ov::disable_fp16_compression`` in C++).
KEEP_F32_KEY = "disable_fp16_compression_0"
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


def edge_nodes(model: Any) -> list[Any]:
    """Floating-point compute nodes outside the convolution body.

    The body is everything downstream of a convolution up to the node where its output meets a
    path that never went through one (the skip); that node and all after it are the tail.
    """
    ops = list(model.get_ordered_ops())
    body_ops = {op.get_friendly_name() for op in ops if op.get_type_name() in _BODY_OPS}
    from_body = _descendants([op for op in ops if op.get_type_name() in _BODY_OPS])
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
    tail = _descendants(merges)
    out = []
    for op in ops:
        if op.get_type_name() in _NOT_COMPUTE or not any(o.get_element_type().is_real() for o in op.outputs()):
            continue
        name = op.get_friendly_name()
        if name not in from_body or name in tail:
            out.append(op)
    return out


def fold_constants(model: Any) -> None:
    """Fold shape arithmetic (the exporter's dynamic bias reshapes) once the input shape is static."""
    from openvino.passes import ConstantFolding, Manager

    manager = Manager()
    manager.register_pass(ConstantFolding())
    manager.run_passes(model)


def keep_edges_at_f32(model: Any) -> list[str]:
    """Mark the nodes of ``edge_nodes`` to run at f32 whatever the inference precision; their names.

    Call it on a model with static input shapes, so the exporter's shape arithmetic folds away.
    """
    fold_constants(model)
    marked = edge_nodes(model)
    for op in marked:
        op.get_rt_info()[KEEP_F32_KEY] = ""
    return [op.get_friendly_name() for op in marked]
