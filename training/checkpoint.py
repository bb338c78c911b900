"""Checkpoints as safetensors (weights, optimiser moments, RNG) plus a JSON state; no pickle anywhere.

A run folder holds ``config.json`` (how it was started), ``ckpt/`` (the latest checkpoint:
``*.safetensors`` and ``state.json``) and its logs. A checkpoint is written into a temporary
folder and swapped in, so a crash mid-save leaves the previous one intact.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from ganstream.training.errors import CheckpointError, ConfigError

CKPT_DIR = "ckpt"
STATE_FILE = "state.json"


def training_device(name: str) -> torch.device:
    """A trainer's `--device` as torch's device; CUDA that torch cannot see is a one-line error."""
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {name}: torch has no CUDA device here")
    return device


def cpu_state(module: nn.Module) -> dict[str, torch.Tensor]:
    """The module's weights on the CPU, contiguous: what safetensors writes, wherever it trained."""
    return {k: v.cpu().contiguous() for k, v in module.state_dict().items()}


def flat_optimizer(
    opt: torch.optim.Optimizer, prefix: str = ""
) -> tuple[dict[str, torch.Tensor], list[dict[str, Any]]]:
    """An optimizer's state as safetensors-ready CPU tensors named ``{prefix}{param}.{slot}`` (scalar
    slots as 0-d tensors), and its param groups for JSON."""
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    for idx, slots in sd["state"].items():
        for key, val in slots.items():
            t = val if isinstance(val, torch.Tensor) else torch.tensor(val)
            tensors[f"{prefix}{idx}.{key}"] = t.detach().to("cpu", copy=True).contiguous()
    return tensors, sd["param_groups"]


def unflat_optimizer(
    opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], groups: list[dict[str, Any]], prefix: str = ""
) -> None:
    """The inverse of `flat_optimizer`; tensors without `prefix` are left alone."""
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, t in tensors.items():
        if name.startswith(prefix):
            idx, key = name[len(prefix) :].split(".", 1)
            state.setdefault(int(idx), {})[key] = t
    opt.load_state_dict({"state": state, "param_groups": groups})


def save_checkpoint(
    run_dir: Path,
    modules: dict[str, nn.Module],
    optimizers: dict[str, torch.optim.Optimizer],
    state: dict[str, Any],
) -> Path:
    tmp = run_dir / (CKPT_DIR + ".tmp")
    final = run_dir / CKPT_DIR
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    for name, module in modules.items():
        sd = {k: v.detach().contiguous().clone() for k, v in module.state_dict().items()}
        save_file(sd, str(tmp / f"{name}.safetensors"))
    groups: dict[str, list[dict[str, Any]]] = {}
    for name, opt in optimizers.items():
        tensors, groups[name] = flat_optimizer(opt)
        save_file(tensors, str(tmp / f"optim_{name}.safetensors"))
    save_file({"cpu": torch.get_rng_state()}, str(tmp / "rng.safetensors"))
    doc = {**state, "optimizer_groups": groups}
    (tmp / STATE_FILE).write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    old = run_dir / (CKPT_DIR + ".old")
    if final.exists():
        final.replace(old)
    tmp.replace(final)
    if old.exists():
        shutil.rmtree(old)
    return final


def read_state(run_dir: Path) -> dict[str, Any]:
    path = run_dir / CKPT_DIR / STATE_FILE
    if not path.is_file():
        raise CheckpointError(f"{run_dir}: no checkpoint ({CKPT_DIR}/{STATE_FILE} is missing)")
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path}: not valid JSON ({exc})") from None
    return data


def load_weights(run_dir: Path, name: str) -> dict[str, torch.Tensor]:
    path = run_dir / CKPT_DIR / f"{name}.safetensors"
    if not path.is_file():
        raise CheckpointError(f"{run_dir}: checkpoint has no {name}.safetensors")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{path}: unreadable ({exc})") from None


def load_checkpoint(
    run_dir: Path, modules: dict[str, nn.Module], optimizers: dict[str, torch.optim.Optimizer]
) -> dict[str, Any]:
    """Restore modules, optimisers and the torch RNG; returns the JSON state."""
    state = read_state(run_dir)
    for name, module in modules.items():
        try:
            module.load_state_dict(load_weights(run_dir, name))
        except RuntimeError as exc:
            first = str(exc).splitlines()[0]
            raise CheckpointError(f"{run_dir}: {name} weights do not fit the model ({first})") from None
    for name, opt in optimizers.items():
        unflat_optimizer(opt, load_weights(run_dir, f"optim_{name}"), state["optimizer_groups"][name])
    torch.set_rng_state(load_weights(run_dir, "rng")["cpu"])
    return state


def load_model_folder(folder: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The generator arch and weights of an exported model folder (``model.safetensors`` + ``card.json``).

    This is what lets ``--init`` fine-tune a shipped model without the run that produced it.
    """
    path = folder / "model.safetensors"
    if not path.is_file():
        raise CheckpointError(f"{folder}: neither a training run (config.json) nor a model folder (model.safetensors)")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        weights = load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{path}: unreadable ({exc})") from None
    if "arch" in meta:
        arch: dict[str, Any] = json.loads(meta["arch"])
    else:
        card = folder / "card.json"
        if not card.is_file():
            raise CheckpointError(f"{folder}: model.safetensors carries no arch and there is no card.json")
        arch = json.loads(card.read_text())["arch"]
    return arch, weights
