"""Deterministic figures (matplotlib, Agg): per-image panels and sweep plots."""

import matplotlib

# Workflow jobs run headless; Agg also renders identically with or without a display.
matplotlib.use("Agg")
