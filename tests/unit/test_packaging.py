"""The installed layout: every sub-package is listed in pyproject, torch stays out of the runtime."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAPPING = {"stream": "ganstream.stream", "engines": "ganstream.engines", "training": "ganstream.training"}


def test_every_subpackage_is_listed_in_pyproject() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = set()
    for folder, pkg in MAPPING.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            found.add(".".join([pkg, *rel.parts]))
    assert found - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"


def test_runtime_imports_do_not_pull_torch() -> None:
    code = (
        "import sys, ganstream.stream.cli, ganstream.engines;"
        "ganstream.stream.cli.build_parser();"
        "assert 'torch' not in sys.modules, 'torch imported by the runtime'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_shipped_models_carry_no_build_machine_paths() -> None:
    onnx_files = sorted((ROOT / "engines" / "models").glob("*/model.onnx"))
    for path in onnx_files:
        assert b'File "/' not in path.read_bytes(), f"{path.name} in {path.parent.name} embeds exporter stack traces"
