"""Sub-command groups shared by the training modules (``ganstream train TASK``, ``ganstream eval TASK``)."""

from __future__ import annotations

import argparse
from typing import Any


def task_group(sub: Any, name: str, help_text: str) -> Any:
    """The sub-command group `name` (e.g. ``train``): found among `sub`'s choices or created."""
    parser = sub.choices.get(name)
    if parser is None:
        parser = sub.add_parser(name, help=help_text)
        tasks = parser.add_subparsers(dest=f"{name}_task", metavar="TASK")
        tasks.required = True
        return tasks
    for action in parser._actions:  # argparse keeps a parser's sub-command group only here
        if isinstance(action, argparse._SubParsersAction):
            return action
    raise RuntimeError(f"command {name!r} exists but has no task sub-commands")
