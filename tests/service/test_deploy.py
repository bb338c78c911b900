"""The Kubernetes manifests agree with the code: shard count = replicas, probes, a valid config."""

from __future__ import annotations

import re
import textwrap
import tomllib
from pathlib import Path

from ganstream.stream.service.config import parse_config
from ganstream.stream.sharding import shard_of

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"


def _embedded_config() -> str:
    text = (DEPLOY / "configmap.yaml").read_text()
    block = text.split("cameras.toml: |\n", 1)[1]
    return textwrap.dedent(block)


def test_replicas_match_the_shard_count_and_probes_hit_the_health_endpoints() -> None:
    sts = (DEPLOY / "statefulset.yaml").read_text()
    replicas = int(re.search(r"^\s*replicas:\s*(\d+)", sts, re.M).group(1))  # type: ignore[union-attr]
    count = int(re.search(r'"--shard", "auto/(\d+)"', sts).group(1))  # type: ignore[union-attr]
    assert replicas == count
    assert "path: /livez" in sts and "path: /readyz" in sts
    assert 'prometheus.io/path: "/metrics"' in sts


def test_the_shipped_config_is_valid_and_spreads_over_the_replicas() -> None:
    env = dict.fromkeys(("GANSTREAM_API_TOKEN", "GANSTREAM_RESTREAM_PASSWORD", "CAM_USER", "CAM_PASSWORD"), "x")
    settings = parse_config(tomllib.loads(_embedded_config()), env=env)
    assert settings.api.host == "0.0.0.0" and settings.api.token  # bound wide, so a token is set
    assert settings.restream.user and settings.restream.password
    shards = {shard_of(c.name, 3) for c in settings.cameras}
    assert len(shards) >= 2  # the example cameras do not all land on one replica
