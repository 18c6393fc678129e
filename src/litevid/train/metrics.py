"""Classification metrics of the study's evaluation: top-1/top-5, mean class accuracy, EK100 action.

``Evaluator`` accumulates, batch by batch, what a whole-split evaluation needs and nothing more:
per head a confusion matrix (``C x C`` counts: top-1 accuracy, per-class recall and so mean class
accuracy come from it) and the top-5 hits, plus the top-5 predictions per clip for the
predictions file. Everything is a sum, so ranks of a distributed evaluation reduce their counts
with one ``all_reduce`` each (``Evaluator.reduce``).

EPIC-KITCHENS-100 (heads ``verb`` and ``noun``): the *action* is correct iff both the verb and
the noun top-1 are (the study's action accuracy); action top-5 ranks verb-noun pairs by the
product of their softmax scores. Targets equal to ``ignore_index`` (clips whose label is unknown,
e.g. an EK100 action pair never seen in training) are left out of that head's metrics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import torch

__all__ = ["Evaluator", "HeadCounts", "IGNORE_INDEX", "topk_hits"]

IGNORE_INDEX = -1
TOPK = 5


def topk_hits(logits: torch.Tensor, target: torch.Tensor, k: int) -> torch.Tensor:
    """Per-sample bool: is ``target`` among the ``k`` highest logits? ``(B, C), (B,) -> (B,)``."""
    k = min(k, logits.shape[-1])
    return (logits.topk(k, dim=-1).indices == target[:, None]).any(dim=-1)


@dataclass
class HeadCounts:
    """Sums for one head: confusion matrix (rows = true class) and top-5 hits over valid clips."""

    num_classes: int
    confusion: torch.Tensor = field(init=False)
    top5: torch.Tensor = field(init=False)

    def __post_init__(self) -> None:
        self.confusion = torch.zeros(self.num_classes, self.num_classes, dtype=torch.long)
        self.top5 = torch.zeros((), dtype=torch.long)

    def add(self, logits: torch.Tensor, target: torch.Tensor) -> None:
        valid = target != IGNORE_INDEX
        logits, target = logits[valid].float().cpu(), target[valid].cpu()
        if target.numel() == 0:
            return
        pred = logits.argmax(-1)
        flat = target * self.num_classes + pred
        self.confusion += torch.bincount(flat, minlength=self.num_classes ** 2).view(
            self.num_classes, self.num_classes)
        self.top5 += topk_hits(logits, target, TOPK).sum()

    @property
    def count(self) -> int:
        return int(self.confusion.sum())

    def summary(self) -> dict[str, float | int]:
        n = self.count
        if n == 0:
            return {"clips": 0, "top1": float("nan"), "top5": float("nan"),
                    "mean_class_acc": float("nan")}
        per_class = self.confusion.sum(1)
        present = per_class > 0
        recall = self.confusion.diagonal()[present].double() / per_class[present].double()
        return {"clips": n, "top1": float(self.confusion.diagonal().sum()) / n,
                "top5": float(self.top5) / n, "mean_class_acc": float(recall.mean())}


class Evaluator:
    """Accumulates metrics over batches of one evaluation.

    Args:
        num_classes: an int (one head, named ``label``) or ``{"verb": 97, "noun": 300}``.
        keep_predictions: keep each clip's top-5 (indices and softmax scores) per head.
    """

    def __init__(self, num_classes: int | Mapping[str, int], *,
                 keep_predictions: bool = True) -> None:
        self.heads = ({"label": int(num_classes)} if isinstance(num_classes, int)
                      else {k: int(v) for k, v in num_classes.items()})
        self.counts = {h: HeadCounts(n) for h, n in self.heads.items()}
        self.epic = set(self.heads) >= {"verb", "noun"}
        self.action = torch.zeros(3, dtype=torch.long)  # [clips, top-1 hits, top-5 hits]
        self.keep_predictions = keep_predictions
        self.predictions: list[dict[str, Any]] = []
        # Filled by ``train.evaluate``: the split's size, the clips that could not be read and
        # the clips read from files cut short (``{"clip", "reason"}`` each).
        self.expected: int | None = None
        self.failed: list[dict[str, str]] = []
        self.warned: list[dict[str, str]] = []

    @property
    def evaluated(self) -> int:
        """Clips scored (decoded), whatever their labels."""
        return (self.expected - len(self.failed)) if self.expected is not None else \
            self.counts[next(iter(self.heads))].count

    def _as_dicts(self, logits: Any, target: Any) -> tuple[dict[str, torch.Tensor],
                                                          dict[str, torch.Tensor]]:
        if not isinstance(logits, Mapping):
            logits = {"label": logits}
        if not isinstance(target, Mapping):
            target = {"label": target}
        missing = set(self.heads) - set(logits) or set(self.heads) - set(target)
        if missing:
            raise ValueError(f"evaluation needs heads {sorted(self.heads)}; got logits for "
                             f"{sorted(logits)} and targets for {sorted(target)}")
        return dict(logits), dict(target)

    @torch.no_grad()
    def add(self, logits: Any, target: Any, clip_ids: list[Any] | None = None) -> None:
        """One batch: logits ``(B, C)`` or a dict of them; targets ``(B,)`` or a dict."""
        logits, target = self._as_dicts(logits, target)
        for head in self.heads:
            self.counts[head].add(logits[head], target[head])
        if self.epic:
            self._add_action(logits["verb"].float().cpu(), logits["noun"].float().cpu(),
                             target["verb"].cpu(), target["noun"].cpu())
        if self.keep_predictions:
            self._keep(logits, target, clip_ids)

    def _add_action(self, verb: torch.Tensor, noun: torch.Tensor, tv: torch.Tensor,
                    tn: torch.Tensor) -> None:
        valid = (tv != IGNORE_INDEX) & (tn != IGNORE_INDEX)
        verb, noun, tv, tn = verb[valid], noun[valid], tv[valid], tn[valid]
        if tv.numel() == 0:
            return
        top1 = (verb.argmax(-1) == tv) & (noun.argmax(-1) == tn)
        # action scores: p(verb) * p(noun) over all pairs, (B, V * N); pair id = v * N + n
        joint = (verb.softmax(-1)[:, :, None] * noun.softmax(-1)[:, None, :]).flatten(1)
        top5 = topk_hits(joint, tv * noun.shape[-1] + tn, TOPK)
        self.action += torch.stack([torch.tensor(tv.numel()), top1.sum(), top5.sum()])

    def _keep(self, logits: dict[str, torch.Tensor], target: dict[str, torch.Tensor],
              clip_ids: list[Any] | None) -> None:
        batch = next(iter(logits.values())).shape[0]
        ids = clip_ids if clip_ids is not None else range(len(self.predictions),
                                                          len(self.predictions) + batch)
        tops = {}
        for head, out in logits.items():
            if head not in self.heads:
                continue
            scores, idx = out.float().softmax(-1).topk(min(TOPK, out.shape[-1]), dim=-1)
            tops[head] = (idx.cpu().tolist(), scores.cpu().tolist(),
                          target[head].cpu().tolist())
        for i, clip in enumerate(ids):
            row: dict[str, Any] = {"clip": clip}
            for head, (idx, scores, tgt) in tops.items():
                row[head] = {"target": tgt[i], "top5": idx[i],
                             "scores": [round(s, 6) for s in scores[i]]}
            self.predictions.append(row)

    def reduce(self, all_reduce: Any) -> None:
        """Sum the counts over ranks: ``all_reduce(tensor)`` sums in place (``torch.distributed``)."""
        for c in self.counts.values():
            all_reduce(c.confusion)
            all_reduce(c.top5)
        all_reduce(self.action)

    def summary(self) -> dict[str, Any]:
        """``{head: {clips, top1, top5, mean_class_acc}}`` plus ``action`` for EK100 and ``top1``
        / ``top5`` / ``mean_class_acc`` of the main head (``label``, or ``action`` for EK100)."""
        out: dict[str, Any] = {h: c.summary() for h, c in self.counts.items()}
        if self.epic:
            n, t1, t5 = (int(v) for v in self.action)
            out["action"] = {"clips": n, "top1": t1 / n if n else float("nan"),
                             "top5": t5 / n if n else float("nan")}
            main = out["action"]
        else:
            main = out[next(iter(self.heads))]
        out["top1"], out["top5"] = main["top1"], main["top5"]
        out["mean_class_acc"] = main.get("mean_class_acc")
        return out
