"""GStreamer and the inference runtimes in one process, in either order.

libgstreamer pulls in libunwind, whose `_Unwind_*` symbols can capture C++ exception handling
for libraries loaded later; OpenVINO then aborts the process when it loads its plugins.
"""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
from ganstream.stream import Pipeline
frames = list(Pipeline("test:red?frames=3&width=32&height=16", [], sink=None).frames(20))
import openvino as ov
import numpy as np
from onnx import TensorProto, helper
x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])
model = helper.make_model(helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y]))
core = ov.Core()
compiled = core.compile_model(core.read_model(model.SerializeToString(), b""), "CPU")
assert compiled(np.ones((1, 3), np.float32))[0].sum() == 3
print("ok", len(frames))
"""


def test_openvino_after_a_gstreamer_pipeline() -> None:
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "ok 3" in proc.stdout, proc.stderr[-2000:]
