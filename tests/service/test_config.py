"""The service config: the shipped example is valid, and each kind of mistake is one clear line."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from ganstream.stream.errors import ConfigError
from ganstream.stream.service.config import example_text, load_config, parse_config
from tests.helpers import run_cli

CAMERA = {"name": "gate", "source": "test:ball"}


def _cfg(**top: Any) -> dict[str, Any]:
    cams = top.pop("cameras", [dict(CAMERA)])
    return {**top, "cameras": cams}


def _error(data: dict[str, Any], env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(data, origin="cams.toml", env=env or {})
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith("cams.toml: ")
    return msg


def test_example_is_valid_and_documents_every_field() -> None:
    text = example_text()
    settings = parse_config(tomllib.loads(text), env={})
    assert settings.cameras[0].name == "example"
    # Every field of every table appears in the example with a comment above its table.
    data = tomllib.loads(text)
    for section in ("engine", "batching", "recording", "restream", "api", "shard"):
        model = type(getattr(settings, section))
        assert set(model.model_fields) == set(data[section]), section
    cam = data["cameras"][0]
    assert set(cam["chain"]) == set(type(settings.cameras[0].chain).model_fields)
    assert set(cam["outputs"]) == set(type(settings.cameras[0].outputs).model_fields)


@pytest.mark.parametrize(
    ("camera", "expected"),
    [
        ({"colour": "red"}, "camera 'gate': unknown key 'colour'"),
        ({"chain": {"sr": 5}}, "camera 'gate': chain.sr: expected one of 0, 2, 3 or 4, got 5"),
        ({"chain": {"sr": "2"}}, "camera 'gate': chain.sr:"),
        ({"outputs": {"record": "yes"}}, "camera 'gate': outputs.record: expected a boolean (true/false), got 'yes'"),
        ({"outputs": {"recrod": True}}, "camera 'gate': unknown key 'outputs.recrod'"),
        ({"fps": -1.0}, "camera 'gate': fps: expected greater than or equal to 0"),
        ({"chain": {"interpolate": 1}}, "camera 'gate': chain.interpolate: expected 0 (off) or a factor 2..16"),
        ({"name": "front door"}, "camera 'front door': name: expected a name of letters, digits"),
    ],
)
def test_camera_mistakes_name_the_camera_and_key(camera: dict[str, Any], expected: str) -> None:
    assert expected in _error(_cfg(cameras=[{**CAMERA, **camera}]))


def test_missing_source_and_duplicate_names() -> None:
    assert "camera 'gate': source: missing (required)" in _error(_cfg(cameras=[{"name": "gate"}]))
    assert "camera name 'gate' is used twice" in _error(_cfg(cameras=[CAMERA, CAMERA]))


def test_global_mistakes() -> None:
    assert "unknown key 'bathcing'" in _error(_cfg(bathcing={}))
    assert "batching.max_batch: expected greater than or equal to 1, got 0" in _error(_cfg(batching={"max_batch": 0}))
    assert "engine.backend: expected one of" in _error(_cfg(engine={"backend": "cuda"}))
    assert "shard: index must be below count (2), got 2" in _error(_cfg(shard={"index": 2, "count": 2}))


def test_exposure_needs_credentials() -> None:
    assert "api.token: expected a token" in _error(_cfg(api={"host": "0.0.0.0"}))
    assert "restream: expected both user and password" in _error(_cfg(restream={"user": "viewer"}))
    ok = parse_config(_cfg(api={"host": "0.0.0.0", "token": "${TOKEN}"}), env={"TOKEN": "s3cret"})
    assert ok.api.token == "s3cret"


def test_credentials_from_environment_or_secrets_file(tmp_path: Path) -> None:
    cam = {"name": "gate", "source": "rtsp://${GATE_USER}:${GATE_PASS}@10.0.0.5/s1"}
    assert "camera 'gate': source: ${GATE_USER} is not set" in _error(_cfg(cameras=[cam]))
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('GATE_USER = "admin"\nGATE_PASS = "from-file"\n')
    cfg = tmp_path / "cams.toml"
    cfg.write_text(
        'secrets_file = "secrets.toml"\n[[cameras]]\nname = "gate"\n'
        'source = "rtsp://${GATE_USER}:${GATE_PASS}@10.0.0.5/s1"\n'
    )
    settings = load_config(cfg, env={"GATE_PASS": "from-env"})
    assert settings.cameras[0].source == "rtsp://admin:from-env@10.0.0.5/s1"  # the environment wins


def test_config_cli_example_and_check(tmp_path: Path) -> None:
    example = run_cli("config", "example", check=True).stdout
    path = tmp_path / "cams.toml"
    path.write_text(example)
    ok = run_cli("config", "check", str(path), check=True)
    assert "ok, 1 camera(s)" in ok.stdout
    path.write_text(example.replace("max_batch = 8", "max_batch = -3"))
    bad = run_cli("config", "check", str(path))
    assert bad.returncode == 2
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and "batching.max_batch" in lines[0] and "Traceback" not in bad.stderr
    path.write_text('[[cameras]]\nname = "a"\nsource = "test:ball"\nchain = { models = ["nosuch"] }\n')
    assert "camera 'a': chain.models: unknown model 'nosuch'" in run_cli("config", "check", str(path)).stderr
    path.write_text('[[cameras]]\nname = "a"\nsource = "test:ball"\nchain = { models = ["interp"] }\n')
    assert "ganstream train interp" in run_cli("config", "check", str(path)).stderr  # how to make one
    path.write_text('[[cameras]]\nname = "a"\nsource = "test:ball"\nchain = { models = ["sr2x-auto"] }\n')
    assert "ok, 1 camera(s)" in run_cli("config", "check", str(path), check=True).stdout  # chosen per camera
    path.write_text('[[cameras]]\nname = "a"\nsource = "bogus://x"\n')
    assert "camera 'a': source:" in run_cli("config", "check", str(path)).stderr
    path.write_text("[[cameras]\n")
    assert "not valid TOML" in run_cli("config", "check", str(path)).stderr
