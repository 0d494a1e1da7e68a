"""One chart per experiment: a metric against budget (or k) per method, from the result's rows."""

from __future__ import annotations

from pathlib import Path

from .common import ExperimentResult


def save_png(result: ExperimentResult, path: str | Path) -> None:
    """Line chart of ``result.extra["plot"] = {"x": column, "y": [columns], "group": column}`` over the rows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    spec = result.extra.get("plot")
    if spec is None:
        raise ValueError(f"experiment {result.name!r} has no chart")
    ys = list(spec["y"])
    fig, axes = plt.subplots(1, len(ys), figsize=(4.2 * len(ys), 3.4), squeeze=False)
    groups = dict.fromkeys(row[spec["group"]] for row in result.rows)
    for ax, y in zip(axes[0], ys, strict=True):
        for group in groups:
            rows = sorted((r for r in result.rows if r[spec["group"]] == group), key=lambda r: r[spec["x"]])
            ax.plot([r[spec["x"]] for r in rows], [r[y] for r in rows], marker="o", label=str(group))
        ax.set_xlabel(spec["x"])
        ax.set_ylabel(y)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(f"interspect experiment {result.name}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
