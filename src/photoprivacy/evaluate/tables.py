"""Per-variant aggregates of the per-image and per-face metric rows, and the one writer for metric tables."""

import io
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

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

# One row per original face in a protected region; descriptors only for checked faces (else empty lists).
DESCRIPTOR_COLUMNS = ("original_descriptor", "protected_descriptor", "erased_descriptor")
_FACE_TYPES = {
    "variant": pa.string(), "scenario": pa.string(), "image_id": pa.string(), "face": pa.int64(),
    "x0": pa.float64(), "y0": pa.float64(), "x1": pa.float64(), "y1": pa.float64(), "width": pa.float64(),
    "protection": pa.string(), "blocks_across": pa.float64(), "checked": pa.bool_(),
    "identity_distance": pa.float64(), "erased_distance": pa.float64(),
    **{column: pa.list_(pa.float64()) for column in DESCRIPTOR_COLUMNS},
}
FACE_COLUMNS = tuple(_FACE_TYPES)
# Added by the aggregate (reidentify.with_reidentification); empty for unchecked faces.
REIDENTIFICATION_COLUMNS = ("reidentified", "erased_reidentified")
_TABLE_FACE_TYPES = {**_FACE_TYPES, **dict.fromkeys(REIDENTIFICATION_COLUMNS, pa.bool_())}

AGGREGATE_COLUMNS = (
    "variant", "scenario", "images", "rejected",
    "faces_original", "faces_protected", "faces_redetected", "face_redetection_rate",
    "faces_checked", "identity_kept", "identity_kept_rate", "identity_min_distance",
    "faces_reidentified", "reidentification_rate", "erased_reidentified", "erased_reidentification_rate",
    "blocks_across_median", "blocks_across_min",
    "persons_protected", "persons_redetected", "person_redetection_rate",
    "w1_words", "w1_kept", "w2_words", "w2_kept", "words_kept_rate",
    *_MEAN_COLUMNS, "psnr_outside", "identical_images",
)


def aggregate(rows, faces):
    """One row per (variant, scenario) of ``rows``, sorted; metrics over the images with status "ok",
    and re-identification and effective resolution over ``faces`` (face rows with
    REIDENTIFICATION_COLUMNS)."""
    face_groups = dict(iter(faces.groupby(["variant", "scenario"], sort=False)))
    records = [
        {**_aggregate_group(variant, scenario, group),
         **_face_record(face_groups.get((variant, scenario), faces.iloc[:0]))}
        for (variant, scenario), group in rows.groupby(["variant", "scenario"], sort=True)
    ]
    return pd.DataFrame(records, columns=list(AGGREGATE_COLUMNS))


def _face_record(faces):
    """Rank-1 re-identification over the checked faces, blocks across over the obfuscated ones."""
    checked = faces[faces["checked"].astype(bool)]
    reidentified = int(checked["reidentified"].astype(bool).sum())
    erased = int(checked["erased_reidentified"].astype(bool).sum())
    blocks = _numbers(faces[faces["protection"] == "obfuscated"], "blocks_across")
    blocks = blocks[np.isfinite(blocks)]
    return {
        "faces_reidentified": reidentified,
        "reidentification_rate": _ratio(reidentified, len(checked)),
        "erased_reidentified": erased,
        "erased_reidentification_rate": _ratio(erased, len(checked)),
        "blocks_across_median": float(blocks.median()) if len(blocks) else math.nan,
        "blocks_across_min": float(blocks.min()) if len(blocks) else math.nan,
    }


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


def face_frame(records, reidentification=False):
    """Face rows (dicts with FACE_COLUMNS, and REIDENTIFICATION_COLUMNS when ``reidentification``) as a
    typed frame: checked a bool, re-identification nullable booleans (empty for unchecked faces)."""
    columns = _TABLE_FACE_TYPES if reidentification else _FACE_TYPES
    frame = pd.DataFrame(records, columns=list(columns))
    types = {"face": np.int64, "checked": bool, **dict.fromkeys(("x0", "y0", "x1", "y1", "width", "blocks_across",
                                                                 "identity_distance", "erased_distance"), np.float64)}
    if reidentification:
        types.update(dict.fromkeys(REIDENTIFICATION_COLUMNS, "boolean"))
    return frame.astype(types)


def faces_parquet_bytes(frame):
    """Parquet of face rows with a fixed schema (descriptors as lists of float64), empty frames included."""
    types = _TABLE_FACE_TYPES if REIDENTIFICATION_COLUMNS[0] in frame.columns else _FACE_TYPES
    table = pa.Table.from_pandas(frame[list(types)], schema=pa.schema(list(types.items())), preserve_index=False)
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def write_faces(frame, parquet_path, csv_path=None):
    """Face rows as parquet (with descriptors) and optionally CSV (without); each file whole or not at all."""
    write_bytes_atomic(parquet_path, faces_parquet_bytes(frame))
    if csv_path is not None:
        csv = frame.drop(columns=list(DESCRIPTOR_COLUMNS)).to_csv(index=False)
        write_bytes_atomic(csv_path, csv.encode("utf-8"))


def read_faces(paths):
    """The face rows of the evaluate shards' parquet files, as one typed frame."""
    frames = [pd.read_parquet(path) for path in paths]
    return face_frame(pd.concat(frames, ignore_index=True) if frames else [])
