"""Privacy versus utility per variant: one row per scenario, one column per leak measure.

Utility (SSIM outside the protected region, higher is better) is on x; each
leak rate (lower is better) is on y, so the best variants sit bottom right.
A variant whose value is NaN is not drawn; the axes say so, so an empty
plot explains itself.
"""

import math

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure

from .save import figure_style, save_figure

UTILITY = "ssim_outside"
LEAKS = {
    "face_redetection_rate": "face re-detection rate",
    "identity_kept_rate": "identity kept (dlib)",
    "person_redetection_rate": "person re-detection rate",
    "words_kept_rate": "caption words kept",
}
REQUIRED_COLUMNS = ("variant", "scenario", UTILITY, "altered_fraction", *LEAKS)
PANEL_SIZE = (4.5, 3.6)  # inches per axes
X_MARGIN = 0.05


def check_aggregates(aggregates):
    missing = [c for c in REQUIRED_COLUMNS if c not in aggregates.columns]
    if missing:
        raise ValueError(f"aggregates lack column(s) {missing}; have {list(aggregates.columns)}")
    duplicated = aggregates[aggregates.duplicated(["variant", "scenario"], keep=False)]
    if len(duplicated):
        pairs = sorted(set(zip(duplicated["variant"], duplicated["scenario"], strict=True)))
        raise ValueError(f"aggregates have more than one row for (variant, scenario) {pairs}")


def variant_colours(variants):
    """Sorted variants -> tab10 colours, cycled; the same variant has the same colour everywhere."""
    palette = colormaps["tab10"].colors
    return {name: palette[i % len(palette)] for i, name in enumerate(sorted(variants))}


def utility_limits(values):
    """x from just below the worst finite SSIM (rounded down to 0.05, at least 0) to 1."""
    finite = values[np.isfinite(values)]
    if not len(finite):
        return 0.0, 1.0
    # Rounding first keeps 0.6 / 0.05 = 11.999... from flooring a whole step too far.
    low = math.floor(round((float(finite.min()) - X_MARGIN) / X_MARGIN, 6)) * X_MARGIN
    return min(max(low, 0.0), 1.0 - X_MARGIN), 1.0


def draw_leak(ax, rows, leak, colours, xlim):
    """One scenario's leak measure against utility; rows sorted by variant."""
    missing, points = [], {}
    for row in rows.itertuples(index=False):
        x, y = getattr(row, UTILITY), getattr(row, leak)
        if not (np.isfinite(x) and np.isfinite(y)):
            missing.append(row.variant)
            continue
        ax.scatter([x], [y], color=colours[row.variant], s=30, zorder=3, clip_on=False)
        points.setdefault((round(x, 4), round(y, 4)), []).append(row.variant)
    # Variants with equal values (e.g. one that changes only the other scenario) share one label.
    for (x, y), names in points.items():
        ax.annotate(", ".join(names), (x, y), xytext=(4, 4), textcoords="offset points", fontsize=7)
    if missing:
        # Upper left is the worst corner (low utility, high leak), where points are rarest.
        ax.text(0.02, 0.98, f"n/a: {', '.join(missing)}", transform=ax.transAxes, va="top", ha="left",
                fontsize=7, bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none"})
    ax.set_xlim(*xlim)
    ax.set_ylim(0.0, 1.0)
    ax.grid(True, linewidth=0.5, alpha=0.5)


def privacy_utility_figure(aggregates):
    """Figure with one row per scenario present and one column per leak measure."""
    check_aggregates(aggregates)
    types = {"variant": str, "scenario": str, UTILITY: float, **{leak: float for leak in LEAKS}}
    table = aggregates.astype(types).sort_values(["scenario", "variant"])
    scenarios = sorted(table["scenario"].unique())
    colours = variant_colours(table["variant"].unique())
    xlim = utility_limits(table[UTILITY].to_numpy(np.float64))
    with figure_style():
        rows = max(len(scenarios), 1)
        fig = Figure(figsize=(PANEL_SIZE[0] * len(LEAKS), PANEL_SIZE[1] * rows), layout="tight")
        fig.suptitle("privacy (leaks, lower is better) vs utility (SSIM outside, higher is better)")
        if not scenarios:
            fig.text(0.5, 0.5, "no aggregates", ha="center", va="center")
            return fig
        axes = fig.subplots(len(scenarios), len(LEAKS), squeeze=False)
        for ax_row, scenario in zip(axes, scenarios, strict=True):
            scenario_rows = table[table["scenario"] == scenario]
            for ax, (leak, label) in zip(ax_row, LEAKS.items(), strict=True):
                draw_leak(ax, scenario_rows, leak, colours, xlim)
                ax.set_title(f"{scenario}: {label}", fontsize=10)
                ax.set_xlabel("SSIM outside")
                ax.set_ylabel(label)
    return fig


def write_privacy_utility(aggregates_csv_path, png_path, pdf_path):
    """Read the per-variant aggregates CSV and write the privacy-utility figure as PNG and PDF."""
    aggregates = pd.read_csv(aggregates_csv_path, dtype={"variant": str, "scenario": str})
    fig = privacy_utility_figure(aggregates)
    save_figure(fig, png_path, pdf_path)
    fig.clear()
