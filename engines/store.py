"""The model store: where installed models are found.

A model is a folder ``<name>/`` holding ``card.json`` and its artifacts. Folders are searched in
order: every entry of ``$GANSTREAM_MODELS`` (an ``os.pathsep`` list), the user's data folder
(``$XDG_DATA_HOME/ganstream/models``, default ``~/.local/share/ganstream/models``), then the
models shipped inside the package. The first folder that holds a name wins, so a user model
shadows a shipped one of the same name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ganstream.engines.card import CARD_FILENAME, ModelCard
from ganstream.engines.errors import ModelCardError, ModelNotFoundError

ENV_VAR = "GANSTREAM_MODELS"
SHIPPED_DIR = Path(__file__).resolve().parent / "models"


def user_models_dir() -> Path:
    """The per-user model folder (XDG data home)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "ganstream" / "models"


def search_path() -> list[Path]:
    """Folders searched for models, first match wins."""
    dirs = [Path(p).expanduser() for p in os.environ.get(ENV_VAR, "").split(os.pathsep) if p.strip()]
    dirs += [user_models_dir(), SHIPPED_DIR]
    return dirs


@dataclass(frozen=True)
class InstalledModel:
    """One model folder found in the store; `card` is None when its card.json is unreadable."""

    name: str
    folder: Path
    card: ModelCard | None
    problem: str = ""


def _candidates() -> list[Path]:
    seen: set[str] = set()
    out: list[Path] = []
    for root in search_path():
        if not root.is_dir():
            continue
        for folder in sorted(p for p in root.iterdir() if (p / CARD_FILENAME).is_file()):
            if folder.name not in seen:
                seen.add(folder.name)
                out.append(folder)
    return out


def list_models() -> list[InstalledModel]:
    """Every installed model (first of each name along the search path), sorted by name."""
    found: list[InstalledModel] = []
    for folder in _candidates():
        try:
            found.append(InstalledModel(folder.name, folder, ModelCard.load(folder)))
        except ModelCardError as exc:
            found.append(InstalledModel(folder.name, folder, None, str(exc)))
    return sorted(found, key=lambda m: m.name)


def resolve_model(name_or_path: str | os.PathLike[str]) -> Path:
    """The folder of a model given its store name, its folder, its card.json or one artifact."""
    text = os.fspath(name_or_path)
    path = Path(text).expanduser()
    if path.is_file():
        return path.parent
    if path.is_dir():
        if (path / CARD_FILENAME).is_file():
            return path
        raise ModelNotFoundError(f"{path}: folder has no {CARD_FILENAME}")
    if os.sep in text or (os.altsep and os.altsep in text):
        raise ModelNotFoundError(f"{path}: no such model file or folder")
    for folder in _candidates():
        if folder.name == text:
            return folder
    names = sorted({f.name for f in _candidates()})
    available = ", ".join(names) if names else "none installed"
    raise ModelNotFoundError(
        f"no model named {text!r} (available: {available}; searched ${ENV_VAR}, {user_models_dir()}, {SHIPPED_DIR})"
    )
