"""Building the component masks of one image at its full resolution.

- ``persons``: the boxes of detected persons.
- ``objects``: the boxes of objects related to a person (relations edges
  whose predicate is in ``object_predicates``; the original used the nearest).
- ``w1`` / ``w2``: the caption's attention maps of the action / scene words,
  upsampled (bilinear, or the original's Gaussian pyramid), min-max
  normalised and thresholded.
- ``scene``: the scene classifier's relevance map, upsampled, normalised, thresholded.

Each builder returns (mask, note): a note says why a mask is empty.
"""

import re

import numpy as np

from .heatmaps import upsample_and_normalise

COMPONENTS = ("persons", "objects", "w1", "w2", "scene")


def heat_mask(grid, height, width, threshold, upsampling):
    """Grid -> (mask, note): upsampled (``heatmaps.UPSAMPLINGS``), normalised to [0, 1], above ``threshold``."""
    heat, reason = upsample_and_normalise(grid, height, width, upsampling)
    if reason:
        return np.zeros((height, width), bool), reason
    return heat > threshold, None


def _normalise(word):
    return re.sub(r"[^\w]+", "", word.lower())


def caption_word_indices(word, caption_words):
    """Indices of the caption words that make up ``word`` (each part of a compound, every occurrence)."""
    parts = {_normalise(part) for part in word.split()}
    return [i for i, w in enumerate(caption_words) if _normalise(w) in parts and _normalise(w)]


def words_mask(words, caption_words, word_maps, height, width, threshold, upsampling):
    """Union of the thresholded attention maps of ``words``; (mask, note). ``threshold`` and ``upsampling``:
    masks.word_threshold and masks.word_upsampling."""
    if not words:
        return np.zeros((height, width), bool), "no such words in the caption analysis"
    indices = sorted({i for word in words for i in caption_word_indices(word, caption_words)})
    if not indices:
        return np.zeros((height, width), bool), f"words {list(words)} not found among the caption words"
    mask, notes = np.zeros((height, width), bool), []
    for index in indices:
        part, note = heat_mask(word_maps[index], height, width, threshold, upsampling)
        mask |= part
        if note:
            notes.append(f"{caption_words[index]}: {note}")
    return mask, "; ".join(notes) or None


def related_object_boxes(detection, relations, predicates):
    by_index = {d["index"]: d for d in detection["detections"]}
    chosen = sorted({e["object"] for e in relations["edges"] if e["predicate"] in predicates})
    return [by_index[i]["box_xyxy"] for i in chosen if i in by_index], chosen
