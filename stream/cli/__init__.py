"""The `ganstream` command: a thin layer over the Python API.

Each sub-command lives in its own module exposing ``register(subparsers)``; the list below is
explicit (no scanning). Modules import their heavy dependencies (GStreamer, torch) inside the
command function, so `ganstream --help` stays fast and torch-free.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import sys
from collections.abc import Sequence

from ganstream.stream.errors import GanstreamError
from ganstream.stream.heap import keep_freed_heap

# The CLI is the one place that composes all three packages, so it may name training's commands.
COMMAND_MODULES: tuple[str, ...] = (
    # one line per command module; keep them sorted by package
    "ganstream.engines.cli",
    "ganstream.stream.cli.gst_cmd",
    "ganstream.stream.cli.run_cmd",
    "ganstream.stream.cli.bench_cmd",
    "ganstream.stream.cli.config_cmd",
    "ganstream.stream.cli.serve_cmd",
    "ganstream.training.cli",
    "ganstream.training.interp.cli",
    "ganstream.training.temporal.cli",
)


def _user_error_types() -> tuple[type[BaseException], ...]:
    """Exception types whose message is meant for the user (printed as one line, no traceback)."""
    types: list[type[BaseException]] = [GanstreamError]
    for mod, name in (("ganstream.engines.errors", "EngineError"), ("ganstream.training.errors", "TrainingError")):
        with contextlib.suppress(ImportError, AttributeError):  # that package may have no error base yet
            types.append(getattr(importlib.import_module(mod), name))
    return tuple(types)


# Modules of the training extra: a command that needs one says how to install it.
TRAINING_MODULES = ("torch", "onnxscript", "safetensors", "skimage", "matplotlib", "tensorboard")


def missing_module_message(exc: ModuleNotFoundError, command: str) -> str:
    """One line naming what is missing and the command that installs it."""
    name = (exc.name or "").split(".")[0]
    if name in TRAINING_MODULES:
        return (
            f"`ganstream {command}` needs the training stack ({name} is not installed): "
            "run `make setup-train` (or pip install 'ganstream[train]')"
        )
    return f"`ganstream {command}` needs the Python module {name or exc}, which is not installed: run `make setup`"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ganstream",
        description="Live video enhancement: super-resolution, restoration and frame interpolation on GStreamer.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    keep_freed_heap()  # per-frame arrays reuse their pages instead of faulting them in again (stream/heap.py)
    try:
        rc = args.func(args)
    except _user_error_types() as exc:
        print(f"ganstream: error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        print(f"ganstream: error: {missing_module_message(exc, args.command)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and the like
        return 0
    except KeyboardInterrupt:
        print("ganstream: interrupted", file=sys.stderr)
        return 130
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
