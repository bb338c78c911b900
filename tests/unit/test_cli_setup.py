"""After the base set-up alone, every command works or says in one line what it needs."""

from __future__ import annotations

import subprocess
import sys

import pytest

# Run the CLI with the training stack hidden, as on a machine that ran `make setup` only.
HIDE_TRAINING = "import sys; sys.modules['torch'] = None; sys.modules['skimage'] = None; "


def run_cli(*args: str, hide: str = HIDE_TRAINING, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    code = f"{hide}from ganstream.stream.cli import main; sys.exit(main({list(args)!r}))"
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, input=stdin, timeout=120, check=False
    )


@pytest.mark.parametrize(
    "args",
    [
        ("train", "sr", "--steps", "1"),
        ("eval", "sr2x"),
        ("export", "runs/missing"),
        ("blend", "runs/a", "runs/b", "--weight", "0.5", "--name", "x"),
    ],
    ids=lambda a: a[0],
)
def test_training_commands_name_the_set_up_step_in_one_line(args: tuple[str, ...]) -> None:
    proc = run_cli(*args)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith(f"ganstream: error: `ganstream {args[0]}` needs the training stack")
    assert "make setup-train" in lines[0]


def test_config_commands_need_no_training_stack() -> None:
    example = run_cli("config", "example")
    assert example.returncode == 0, example.stderr
    check = run_cli("config", "check", "/dev/stdin", stdin=example.stdout)
    assert check.returncode == 0, check.stderr + check.stdout
