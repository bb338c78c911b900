"""Each candidate against the first model of an eval run, item by item: the choice rule's table.

A mean over a dozen clips and photos can rise while most of them get worse (a few clips with
large gains hide many small losses), and such a gain has not carried to unseen footage. So a
candidate replaces a shipped model only when, on every input, its mean is higher **and** it is
better on at least as many items as it is worse (a difference within ``TIE_DB`` is a tie).
``ganstream eval SHIPPED,CANDIDATE,...`` prints this table under the floors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

TIE_DB = 0.01  # per-item differences within this are ties: the eval's rounding, not a change


class _Scored(Protocol):  # read-only members: frozen dataclasses and `evaluate.Row` both fit
    @property
    def task(self) -> str: ...
    @property
    def dataset(self) -> str: ...
    @property
    def method(self) -> str: ...
    @property
    def per_clip(self) -> dict[str, float]: ...


@dataclass(frozen=True)
class ScoredItems:
    """One method's score per item, for evals whose rows are not `evaluate.Row` (interpolation)."""

    task: str
    dataset: str
    method: str
    per_clip: dict[str, float]


@dataclass(frozen=True)
class HeadToHead:
    task: str
    dataset: str
    incumbent: str
    candidate: str
    mean_db: float  # candidate minus incumbent, mean over the items both scored
    better: int
    worse: int
    items: int
    worst_db: float
    worst_item: str

    @property
    def passes(self) -> bool:
        return self.mean_db > 0 and self.better >= self.worse


def head_to_head(rows: Sequence[_Scored], baselines: tuple[str, ...]) -> list[HeadToHead]:
    """The first model of each (task, input) against every later one, on their shared items."""
    out: list[HeadToHead] = []
    for key in dict.fromkeys((r.task, r.dataset) for r in rows):
        models = [r for r in rows if (r.task, r.dataset) == key and r.method not in baselines and r.per_clip]
        if len(models) < 2:
            continue
        first = models[0]
        for cand in models[1:]:
            shared = [c for c in first.per_clip if c in cand.per_clip]
            if not shared:
                continue
            diffs = {c: cand.per_clip[c] - first.per_clip[c] for c in shared}
            worst = min(diffs, key=lambda c: diffs[c])
            out.append(
                HeadToHead(
                    key[0], key[1], first.method, cand.method,
                    mean_db=sum(diffs.values()) / len(diffs),
                    better=sum(d > TIE_DB for d in diffs.values()),
                    worse=sum(d < -TIE_DB for d in diffs.values()),
                    items=len(diffs), worst_db=diffs[worst], worst_item=worst,
                )
            )  # fmt: skip
    return out


def head_to_head_markdown(rows: Sequence[_Scored], baselines: tuple[str, ...]) -> list[str]:
    pairs = head_to_head(rows, baselines)
    if not pairs:
        return []
    lines = [
        "",
        "Against the first model (mean over items; items better / worse by more than "
        f"{TIE_DB} dB; the choice rule: mean higher and at least as many items better as worse, on every input)",
        "",
        "| task | input | candidate | against | mean dB | better | worse | items | worst item dB | rule |",
        "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for p in pairs:
        lines.append(
            f"| {p.task} | {p.dataset} | {p.candidate} | {p.incumbent} | {p.mean_db:+.3f} | {p.better} | {p.worse} "
            f"| {p.items} | {p.worst_db:+.2f} ({p.worst_item}) | {'passes' if p.passes else 'fails'} |"
        )
    return lines
