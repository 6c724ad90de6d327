"""The progress chart: accuracy per domain, with how many answers each bar rests on."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def accuracy_chart(domains: Sequence, path: Path) -> None:
    """A horizontal bar per domain (`progress.DomainProgress`): share answered right, labelled "right/answered"."""
    import matplotlib

    matplotlib.use("Agg")  # no display: a file
    import matplotlib.pyplot as plt

    names = [d.domain if len(d.domain) <= 48 else d.domain[:47] + "…" for d in domains]
    fig, ax = plt.subplots(figsize=(8, 0.6 * len(domains) + 1.2))
    bars = ax.barh(names, [100 * d.accuracy for d in domains], color="#4c78a8")
    for bar, d in zip(bars, domains, strict=True):
        ax.text(bar.get_width() + 1, bar.get_y() + bar.get_height() / 2, f"{d.correct}/{d.answered}", va="center")
    ax.set_xlim(0, 110)
    ax.set_xlabel("answered right (%)")
    ax.invert_yaxis()
    ax.set_title("Quiz accuracy per domain")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
