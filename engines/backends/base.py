"""Shared machinery of the backends: input preparation, output cropping, a one-line summary."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType

import numpy as np
import numpy.typing as npt

from ganstream.engines.card import ModelCard
from ganstream.engines.errors import EngineClosedError
from ganstream.engines.feed import Array, prepare


class BackendEngine(ABC):
    """Base of the concrete engines: subclasses implement `_run` on prepared (padded) inputs."""

    backend: str = ""
    # infer pads frames to the card's multiple_of itself: callers need not check alignment.
    pads_input: bool = True

    def __init__(self, card: ModelCard, folder: Path, precision: str) -> None:
        self.card = card
        self.folder = folder
        self.precision = precision
        self.device = "cpu"
        self.precision_reason = ""  # why this precision, when the backend chose it
        self._closed = False

    def infer(self, *inputs: npt.NDArray[np.generic]) -> npt.NDArray[np.uint8]:
        """Run one batch: frames uint8 (N, H, W, 3) in the card's input order; returns uint8 NHWC."""
        if self._closed:
            raise EngineClosedError(f"{self.backend} engine for '{self.card.name}' is closed")
        batch = prepare(self.card, inputs, where=f"{self.backend} infer")
        return batch.crop(self._run(batch.feeds))

    def infer_many(self, batches: Iterable[tuple[npt.NDArray[np.generic], ...]]) -> Iterator[npt.NDArray[np.uint8]]:
        """Run a sequence of batches (each a tuple of inputs), yielding outputs in order.

        Backends with asynchronous devices override this to keep several batches in flight.
        """
        for inputs in batches:
            yield self.infer(*inputs)

    def size_problem(self, height: int, width: int) -> str | None:
        """None if frames of this size can be run, else a sentence saying why not."""
        lim = self.card.limits
        if lim.min_height <= height <= lim.max_height and lim.min_width <= width <= lim.max_width:
            return None
        return lim.check(height, width)

    @abstractmethod
    def _run(self, feeds: dict[str, Array]) -> npt.NDArray[np.uint8]: ...

    def close(self) -> None:
        self._closed = True

    def summary(self) -> str:
        """One line naming the model, backend, precision and device: printed by every run."""
        why = f" ({self.precision_reason})" if self.precision_reason else ""
        return f"model {self.card.name}: backend {self.backend}, precision {self.precision}{why}, device {self.device}"

    def __enter__(self) -> BackendEngine:
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.summary()}>"
