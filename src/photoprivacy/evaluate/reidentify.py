"""Rank-1 re-identification of protected faces in a gallery of the run's own faces.

A distance below 0.6 at the same box (``identity_kept``) also flags faces
erased to a flat patch: dlib reads hair, ears and background around the box.
Published evaluations of face anonymisation report re-identification
instead, against a baseline; so does this module.

The gallery holds the original descriptor of every distinct checked face of
the run: one per image and face box, since the same original face appears
in every variant and scenario with the same box and descriptor. A probe is a
checked face's descriptor on the protected photo, or, for the control, on
the original photo with that face erased to a flat patch of its mean colour.
A probe is re-identified when its nearest gallery descriptor (Euclidean) is
its own face's original and lies closer than 0.6 (dlib's same-person
distance). A protection removes what it can when its rate is no higher than
the control's: what is left is read from outside the face box.

A variant that resizes its output (``render.scenario1.resize``) measures
its faces at another size, so their boxes differ and the gallery holds each
such face twice, at two sizes; a probe then competes with its own other-size
copy. Compare such variants among themselves.
"""

import numpy as np
import pandas as pd

from .identity import SAME_PERSON_DISTANCE
from .tables import face_frame

# Probes per matrix product: at most CHUNK_ROWS, and at most CHUNK_VALUES distances (256 MB of float64) at a
# time, so a gallery of 100,000 faces takes chunks of 335 probes instead of a 10^10-value matrix.
CHUNK_ROWS = 4096
CHUNK_VALUES = 2**25
_GALLERY_KEY = ["image_id", "x0", "y0", "x1", "y1"]


def nearest_gallery(probes, gallery, chunk_rows=None):
    """(index, distance) of each probe row's nearest gallery row (Euclidean): squared norms and
    -2 a.b^T, ``chunk_rows`` probes at a time (None: chunk_size), so memory stays chunk_rows x
    len(gallery). Distances are recomputed exactly for the chosen rows: they do not depend on the chunking."""
    probes, gallery = np.asarray(probes, np.float64), np.asarray(gallery, np.float64)
    if len(gallery) == 0:
        raise ValueError("the gallery is empty")
    chunk_rows = chunk_rows or chunk_size(len(gallery))
    # |p - g|^2 = |p|^2 + |g|^2 - 2 p.g, and |p|^2 is the same along a probe's row: the argmin needs the rest.
    gallery_norms = np.einsum("ij,ij->i", gallery, gallery)
    minus_two_gallery = -2.0 * gallery.T
    index = np.empty(len(probes), np.int64)
    for start in range(0, len(probes), chunk_rows):
        partial = probes[start:start + chunk_rows] @ minus_two_gallery
        partial += gallery_norms
        index[start:start + len(partial)] = np.argmin(partial, axis=1)
    return index, np.linalg.norm(probes - gallery[index], axis=1)


def chunk_size(gallery_size):
    """Probes per matrix product for a gallery of ``gallery_size`` faces."""
    return max(1, min(CHUNK_ROWS, CHUNK_VALUES // max(gallery_size, 1)))


def gallery_of(faces):
    """(gallery row of each face row, -1 when unchecked; gallery descriptors): the original
    descriptor of each distinct checked face, keyed by image id and box."""
    checked = faces["checked"].to_numpy(bool)
    keys = pd.MultiIndex.from_frame(faces.loc[checked, _GALLERY_KEY])
    codes, _ = pd.factorize(keys)
    rows = np.full(len(faces), -1, np.int64)
    rows[checked] = codes
    _, first = np.unique(codes, return_index=True)  # factorize numbers keys by first appearance
    originals = faces.loc[checked, "original_descriptor"].to_numpy()
    return rows, _stack(originals[first])


def rank1_reidentified(faces, probe_column, chunk_rows=None, threshold=SAME_PERSON_DISTANCE):
    """Per face row, whether its ``probe_column`` descriptor's nearest gallery face is its own,
    closer than ``threshold``: a nullable boolean array, empty (NA) for unchecked faces."""
    own, gallery = gallery_of(faces)
    checked = own >= 0
    result = pd.array([pd.NA] * len(faces), dtype="boolean")
    if checked.any():
        nearest, distance = nearest_gallery(_stack(faces.loc[checked, probe_column].to_numpy()), gallery, chunk_rows)
        result[checked] = (nearest == own[checked]) & (distance < threshold)
    return result


def with_reidentification(faces, chunk_rows=None):
    """The face rows (tables.FACE_COLUMNS) with ``reidentified`` (protected probe) and
    ``erased_reidentified`` (flat-erase control) added."""
    faces = face_frame(faces)
    reidentification = {
        "reidentified": rank1_reidentified(faces, "protected_descriptor", chunk_rows),
        "erased_reidentified": rank1_reidentified(faces, "erased_descriptor", chunk_rows),
    }
    return face_frame(faces.assign(**reidentification), reidentification=True)


def _stack(descriptors):
    """An (n, 128) float64 array of a sequence of descriptor lists or arrays."""
    return np.array([np.asarray(d, np.float64) for d in descriptors]).reshape(len(descriptors), 128)
