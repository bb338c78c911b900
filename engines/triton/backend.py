"""The `triton` backend: a model served by Triton Inference Server, called over gRPC.

The model's card is read locally (from the store, as for every backend) and the server must
hold a model of the same name, e.g. one written by ``ganstream engines export-triton``.
Options: ``url`` (host:port of the gRPC endpoint, required), ``timeout_s`` (per call, default 10).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ganstream.engines.backends.base import BackendEngine
from ganstream.engines.card import ModelCard
from ganstream.engines.errors import BackendUnavailableError
from ganstream.engines.feed import Array

_NP_TO_TRITON = {"uint8": "UINT8", "float32": "FP32", "float16": "FP16", "int64": "INT64"}


def unavailable_reason(card: ModelCard, folder: Path, options: dict[str, Any], for_auto: bool = False) -> str | None:
    try:
        import tritonclient.grpc  # noqa: F401
    except ImportError as exc:
        return f"tritonclient is not installed ({exc}; pip install 'ganstream[triton]')"
    if not options.get("url"):
        return "no Triton server given (option url=HOST:PORT, or engine.triton_url in the service config)"
    return None


def default_precision(card: ModelCard, folder: Path, options: dict[str, Any] | None = None) -> str:
    return "fp32"  # the server's model config decides; the card's graph is fp32


def create(card: ModelCard, folder: Path, precision: str, **options: Any) -> TritonEngine:
    return TritonEngine(card, folder, precision, **options)


class TritonEngine(BackendEngine):
    backend = "triton"

    def __init__(
        self, card: ModelCard, folder: Path, precision: str = "fp32", url: str = "", timeout_s: float = 10.0, **_: Any
    ) -> None:
        import tritonclient.grpc as grpcclient

        super().__init__(card, folder, precision)
        self._grpc = grpcclient
        self.url = url
        self.device = f"triton {url}"
        self.timeout_s = timeout_s
        self.client = grpcclient.InferenceServerClient(url=url)
        try:
            ready = self.client.is_model_ready(card.name)
        except Exception as exc:  # tritonclient raises its own InferenceServerException
            raise BackendUnavailableError(f"triton backend: no server answers at {url} ({exc})") from None
        if not ready:
            raise BackendUnavailableError(
                f"triton backend: the server at {url} has no ready model {card.name!r} "
                f"(export one: ganstream engines export-triton {card.name} --repo DIR)"
            )

    def _run(self, feeds: dict[str, Array]) -> npt.NDArray[np.uint8]:
        g = self._grpc
        inputs = []
        for name, array in feeds.items():
            inp = g.InferInput(name, list(array.shape), _NP_TO_TRITON[str(array.dtype)])
            inp.set_data_from_numpy(np.ascontiguousarray(array))
            inputs.append(inp)
        out_name = self.card.outputs[0].name
        result = self.client.infer(
            self.card.name, inputs, outputs=[g.InferRequestedOutput(out_name)], client_timeout=self.timeout_s
        )
        return np.asarray(result.as_numpy(out_name), dtype=np.uint8)

    def close(self) -> None:
        client = self.__dict__.pop("client", None)
        if client is not None:
            client.close()
        super().close()
