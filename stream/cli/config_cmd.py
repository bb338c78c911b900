"""`ganstream config example|check`: the service's commented default config, and validation."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("config", help="the multi-camera service's config file: example, check")
    actions = p.add_subparsers(dest="config_command", metavar="ACTION")
    actions.required = True
    ex = actions.add_parser("example", help="print a fully commented default config (TOML)")
    ex.set_defaults(func=cmd_example)
    check = actions.add_parser("check", help="validate a config without starting anything")
    check.add_argument("path", type=Path, help="the config file (TOML)")
    check.set_defaults(func=cmd_check)


def cmd_example(_args: argparse.Namespace) -> int:
    from ganstream.stream.service.config import example_text

    sys.stdout.write(example_text())
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from ganstream.stream.errors import ConfigError
    from ganstream.stream.service.config import load_config
    from ganstream.stream.service.engines import unknown_model
    from ganstream.stream.stage_factory import installed_models, task_of
    from ganstream.stream.uri import parse_source, redact

    settings = load_config(args.path)
    installed = installed_models()
    for cam in settings.cameras:
        try:
            parse_source(cam.source)
        except ValueError as exc:
            raise ConfigError(f"{args.path}: camera {cam.name!r}: source: {exc}") from None
        for model in cam.chain.models:
            if task_of(model, installed) is None:
                raise ConfigError(f"{args.path}: camera {cam.name!r}: {unknown_model(model, installed)}")
    print(f"{args.path}: ok, {len(settings.cameras)} camera(s)")
    for cam in settings.cameras:
        outs = [k for k in ("restream", "record") if getattr(cam.outputs, k)]
        outs += [f"{k}={getattr(cam.outputs, k)}" for k in ("file", "v4l2") if getattr(cam.outputs, k)]
        state = "" if cam.enabled else " (disabled)"
        print(f"  {cam.name}: {redact(cam.source)} -> {', '.join(outs) or 'none'}{state}")
    return 0
