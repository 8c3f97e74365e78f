"""Early stopping on a validation score, shared by the torch baselines' training loops."""

from __future__ import annotations

import copy

from torch import nn


class EarlyStopping:
    """Keeps the weights of the best epoch (highest score) and says when to stop: after
    ``patience`` epochs in a row without a better score. An epoch without a score (None, no
    validation data) changes nothing."""

    def __init__(self, patience: int):
        self.patience = patience
        self.best = -float("inf")
        self.best_state: dict | None = None
        self.since_best = 0

    def update(self, score: float | None, net: nn.Module) -> bool:
        """Record one epoch's score; True = stop training now."""
        if score is None:
            return False
        if score > self.best:
            self.best, self.best_state, self.since_best = score, copy.deepcopy(
                net.state_dict()), 0
            return False
        self.since_best += 1
        return self.since_best >= self.patience

    def restore(self, net: nn.Module) -> None:
        """Load the best epoch's weights into ``net`` (nothing without a scored epoch)."""
        if self.best_state is not None:
            net.load_state_dict(self.best_state)

    def state(self) -> dict:
        """What a checkpoint keeps to resume early stopping where it was."""
        return {"best": self.best, "best_state": self.best_state,
                "since_best": self.since_best}

    def load_state(self, state: dict) -> None:
        self.best, self.best_state = state["best"], state["best_state"]
        self.since_best = state["since_best"]
