"""Training and evaluation under the study's uniform recipe (``litevid train / eval / predict``).

``TrainConfig`` holds the recipe, ``Trainer`` runs it (single process, or ``torchrun`` + DDP),
``evaluate`` scores a model with the study's single-view protocol, ``Evaluator`` holds the
metrics (top-1/top-5, mean class accuracy, EPIC-KITCHENS action), checkpoints resume exactly.
"""

from .config import TrainConfig, accumulation_steps
from .metrics import Evaluator

__all__ = ["Evaluator", "TrainConfig", "Trainer", "accumulation_steps"]


def __getattr__(name: str):
    if name == "Trainer":  # imports the data pipeline; only when asked for
        from .loop import Trainer

        return Trainer
    raise AttributeError(f"module 'litevid.train' has no attribute {name!r}")
