"""Privacy versus utility per variant: one row per scenario, one column per panel, one point per variant.

The first two panels plot the rank-1 re-identification rate (dlib, against
the run's own faces; lower is better) against the effective resolution
(median blocks across an obfuscated face) and against SSIM outside the
protected region (higher is better), so the best variants sit bottom right.
The flat-erase control (the same faces erased to their mean colour) is a
dashed line at the mean of the scenario's variants' control rates, with a
band from their lowest to their highest where they differ (variants that
protect other regions check other faces): no protection of the face box can
go below it. The other panels plot the remaining leaks (faces and persons
found again, caption words kept) against SSIM outside. A variant whose
value is NaN is not drawn; the axes say so, so an empty plot explains itself.
Up to ``LABELLED_VARIANTS`` variants each point carries its name; a larger
sweep (sweeps/strength.tsv has 18) gets one legend of colours and markers instead.
"""

import math

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure

from .save import figure_style, save_figure

UTILITY = "ssim_outside"
RESOLUTION = "blocks_across_median"
REIDENTIFICATION = "reidentification_rate"
CONTROL = "erased_reidentification_rate"
LABELS = {
    UTILITY: "SSIM outside",
    RESOLUTION: "blocks (blur: sigmas) across a face, median",
    REIDENTIFICATION: "re-identified (rank 1, dlib)",
    "face_redetection_rate": "face re-detection rate",
    "person_redetection_rate": "person re-detection rate",
    "words_kept_rate": "caption words kept",
}
PANELS = (  # (x, y): the leak on y, lower is better
    (RESOLUTION, REIDENTIFICATION),
    (UTILITY, REIDENTIFICATION),
    (UTILITY, "face_redetection_rate"),
    (UTILITY, "person_redetection_rate"),
    (UTILITY, "words_kept_rate"),
)
REQUIRED_COLUMNS = ("variant", "scenario", "altered_fraction", CONTROL, *LABELS)
PANEL_SIZE = (4.2, 3.6)  # inches per axes
X_MARGIN = 0.05
LABELLED_VARIANTS = 8  # more variants: a legend instead of a name at every point
MARKERS = ("o", "s", "^", "D")


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


def variant_styles(variants):
    """Sorted variants -> (colour, marker): tab10 colours with a circle up to LABELLED_VARIANTS variants
    (their names are written at the points), else tab20 colours and a marker per round of 20."""
    names = sorted(variants)
    if len(names) <= LABELLED_VARIANTS:
        return {name: (colour, "o") for name, colour in variant_colours(names).items()}
    palette = colormaps["tab20"].colors
    return {name: (palette[i % 20], MARKERS[i // 20 % len(MARKERS)]) for i, name in enumerate(names)}


def utility_limits(values):
    """x from just below the worst finite SSIM (rounded down to 0.05, at least 0) to 1."""
    finite = values[np.isfinite(values)]
    if not len(finite):
        return 0.0, 1.0
    # Rounding first keeps 0.6 / 0.05 = 11.999... from flooring a whole step too far.
    low = math.floor(round((float(finite.min()) - X_MARGIN) / X_MARGIN, 6)) * X_MARGIN
    return min(max(low, 0.0), 1.0 - X_MARGIN), 1.0


def resolution_limits(values):
    """x from 0 to the largest finite blocks across plus a tenth, rounded up to a whole block (at least 1)."""
    finite = values[np.isfinite(values)]
    if not len(finite):
        return 0.0, 1.0
    return 0.0, float(max(1, math.ceil(float(finite.max()) * 1.1)))


def draw_leak(ax, rows, x_column, leak, styles, xlim, labelled=True):
    """One scenario's leak measure against ``x_column``; rows sorted by variant; ``labelled``: names at points."""
    missing, points = [], {}
    for row in rows.itertuples(index=False):
        x, y = getattr(row, x_column), getattr(row, leak)
        if not (np.isfinite(x) and np.isfinite(y)):
            missing.append(row.variant)
            continue
        colour, marker = styles[row.variant]
        ax.scatter([x], [y], color=colour, marker=marker, s=30, zorder=3, clip_on=False, label=row.variant)
        points.setdefault((round(x, 4), round(y, 4)), []).append(row.variant)
    # Variants with equal values (e.g. one that changes only the other scenario) share one label.
    for (x, y), names in points.items() if labelled else ():
        ax.annotate(", ".join(names), (x, y), xytext=(4, 4), textcoords="offset points", fontsize=7)
    if missing:
        # Upper left is the worst corner (low utility, high leak), where points are rarest.
        text = "n/a: every variant" if len(missing) == len(rows) > 1 else f"n/a: {', '.join(missing)}"
        ax.text(0.02, 0.98, text, transform=ax.transAxes, va="top", ha="left", wrap=True,
                fontsize=7, bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none"})
    ax.set_xlim(*xlim)
    ax.set_ylim(0.0, 1.0)
    ax.grid(True, linewidth=0.5, alpha=0.5)


def draw_control(ax, rows):
    """The flat-erase control: a dashed line at the mean of the variants' rates, a band over their range."""
    rates = rows[CONTROL].to_numpy(np.float64)
    rates = rates[np.isfinite(rates)]
    if not len(rates):
        return
    low, mean, high = float(rates.min()), float(rates.mean()), float(rates.max())
    if high > low:
        ax.axhspan(low, high, color="0.5", alpha=0.15, linewidth=0, zorder=1)
    line = ax.axhline(mean, color="0.35", linestyle="--", linewidth=1, zorder=2,
                      label=f"flat-erase control {mean:.2f}")
    # Upper right (high utility, high leak) is where points are rarest after upper left, which holds "n/a".
    ax.legend(handles=[line], loc="upper right", fontsize=7, frameon=False)


def privacy_utility_figure(aggregates):
    """Figure with one row per scenario present and one column per panel (PANELS)."""
    check_aggregates(aggregates)
    types = {"variant": str, "scenario": str, CONTROL: float, **{column: float for column in LABELS}}
    table = aggregates.astype(types).sort_values(["scenario", "variant"])
    scenarios = sorted(table["scenario"].unique())
    styles = variant_styles(table["variant"].unique())
    labelled = len(styles) <= LABELLED_VARIANTS
    limits = {UTILITY: utility_limits(table[UTILITY].to_numpy(np.float64)),
              RESOLUTION: resolution_limits(table[RESOLUTION].to_numpy(np.float64))}
    with figure_style():
        rows = max(len(scenarios), 1)
        width = PANEL_SIZE[0] * len(PANELS) + (0 if labelled else 1.6)  # room for the legend
        fig = Figure(figsize=(width, PANEL_SIZE[1] * rows), layout="constrained")
        fig.suptitle("privacy (leaks, lower is better) vs utility (effective resolution and SSIM outside, "
                     "higher is better)")
        if not scenarios:
            fig.text(0.5, 0.5, "no aggregates", ha="center", va="center")
            return fig
        axes = fig.subplots(len(scenarios), len(PANELS), squeeze=False)
        for ax_row, scenario in zip(axes, scenarios, strict=True):
            scenario_rows = table[table["scenario"] == scenario]
            for ax, (x_column, leak) in zip(ax_row, PANELS, strict=True):
                draw_leak(ax, scenario_rows, x_column, leak, styles, limits[x_column], labelled)
                if leak == REIDENTIFICATION:
                    draw_control(ax, scenario_rows)
                ax.set_title(f"{scenario}: {LABELS[leak]}", fontsize=10)
                ax.set_xlabel(LABELS[x_column])
                ax.set_ylabel(LABELS[leak])
        if not labelled:
            handles, names = axes[0][1].get_legend_handles_labels()
            named = [(h, n) for h, n in zip(handles, names, strict=True) if not n.startswith("flat-erase")]
            fig.legend(*zip(*named, strict=True), loc="outside right center", fontsize=7, title="variant")
    return fig


def write_privacy_utility(aggregates_csv_path, png_path, pdf_path):
    """Read the per-variant aggregates CSV and write the privacy-utility figure as PNG and PDF."""
    aggregates = pd.read_csv(aggregates_csv_path, dtype={"variant": str, "scenario": str})
    fig = privacy_utility_figure(aggregates)
    save_figure(fig, png_path, pdf_path)
    fig.clear()
