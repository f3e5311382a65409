"""Per-variant aggregates of the per-image metric rows, and the one writer for metric tables."""

import io
import math

import numpy as np
import pandas as pd

from ..artifacts import write_bytes_atomic

ROW_COLUMNS = (
    "variant", "scenario", "image_id", "status", "reason",
    "faces_original", "faces_protected", "faces_redetected", "faces_checked", "identity_kept",
    "identity_min_distance", "persons_protected", "persons_redetected",
    "w1_words", "w1_kept", "w2_words", "w2_kept",
    "caption_original", "caption_protected", "caption_similarity",
    "ssim_outside", "psnr_outside", "altered_fraction", "protected_fraction",
)

_COUNT_COLUMNS = (
    "faces_original", "faces_protected", "faces_redetected", "faces_checked", "identity_kept",
    "persons_protected", "persons_redetected",
    "w1_words", "w1_kept", "w2_words", "w2_kept",
)
_MEAN_COLUMNS = ("caption_similarity", "ssim_outside", "altered_fraction", "protected_fraction")

AGGREGATE_COLUMNS = (
    "variant", "scenario", "images", "rejected",
    "faces_original", "faces_protected", "faces_redetected", "face_redetection_rate",
    "faces_checked", "identity_kept", "identity_kept_rate", "identity_min_distance",
    "persons_protected", "persons_redetected", "person_redetection_rate",
    "w1_words", "w1_kept", "w2_words", "w2_kept", "words_kept_rate",
    *_MEAN_COLUMNS, "psnr_outside", "identical_images",
)


def aggregate(rows):
    """One row per (variant, scenario), sorted; metrics over the images with status "ok"."""
    records = [
        _aggregate_group(variant, scenario, group)
        for (variant, scenario), group in rows.groupby(["variant", "scenario"], sort=True)
    ]
    return pd.DataFrame(records, columns=list(AGGREGATE_COLUMNS))


def _aggregate_group(variant, scenario, group):
    ok = group[group["status"] == "ok"]
    record = {
        "variant": variant,
        "scenario": scenario,
        "images": len(ok),
        "rejected": int((group["status"] == "rejected").sum()),
    }
    record.update({column: _total(_numbers(ok, column)) for column in _COUNT_COLUMNS})
    record["face_redetection_rate"] = _ratio(record["faces_redetected"], record["faces_original"])
    record["identity_kept_rate"] = _ratio(record["identity_kept"], record["faces_checked"])
    distances = _numbers(ok, "identity_min_distance").dropna()
    record["identity_min_distance"] = float(distances.min()) if len(distances) else math.nan
    record["person_redetection_rate"] = _ratio(record["persons_redetected"], record["persons_protected"])
    record["words_kept_rate"] = _ratio(
        record["w1_kept"] + record["w2_kept"], record["w1_words"] + record["w2_words"]
    )
    record.update({column: _mean(_numbers(ok, column)) for column in _MEAN_COLUMNS})
    psnr = _numbers(ok, "psnr_outside")
    # The mean of the finite values: one unchanged image (inf) would swamp it; inf when all are unchanged.
    finite = psnr[np.isfinite(psnr)]
    record["psnr_outside"] = math.inf if finite.empty and (psnr == math.inf).any() else _mean(finite)
    record["identical_images"] = int((_numbers(ok, "altered_fraction") == 0).sum())
    return record


def _numbers(frame, column):
    """The column as floats: rejected rows leave None in it, which makes it object dtype."""
    return pd.to_numeric(frame[column], errors="coerce").astype(np.float64)


def _total(values):
    """Sum of a count; NaN when it was not measured (e.g. evaluate.recaption: false)."""
    return int(values.sum()) if values.notna().any() else math.nan


def _ratio(numerator, denominator):
    return numerator / denominator if denominator else math.nan


def _mean(values):
    return float(values.mean()) if values.notna().any() else math.nan


def write_table(frame, parquet_path, csv_path):
    """Write ``frame`` as parquet and CSV; each file appears whole or not at all."""
    parquet = io.BytesIO()
    frame.to_parquet(parquet, engine="pyarrow", index=False)
    write_bytes_atomic(parquet_path, parquet.getvalue())
    write_bytes_atomic(csv_path, frame.to_csv(index=False).encode("utf-8"))
