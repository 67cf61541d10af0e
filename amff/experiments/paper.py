"""What the paper itself reports: the one place its numbers are typed."""

from __future__ import annotations

# Table 1 of the paper: AUC, F1 and accuracy of each fusion on its own (unpublished) simulator
PAPER_TABLE1: dict[str, dict[str, float]] = {
    "early": {"auroc": 0.668, "f1": 0.618, "accuracy": 0.618},
    "late": {"auroc": 0.654, "f1": 0.591, "accuracy": 0.605},
    "amff": {"auroc": 0.721, "f1": 0.675, "accuracy": 0.680},
}


def paper_number(method: str, metric: str) -> str:
    """A Table 1 number as the paper prints it: '0.721'."""
    return f"{PAPER_TABLE1[method][metric]:.3f}"


__all__ = ["PAPER_TABLE1", "paper_number"]
