"""Per-image metrics: how much of the image outside the protected regions
survives (SSIM, PSNR), whether faces, persons and words are still found, and
how far the caption moved."""

import math
import re
from collections import Counter

import cv2
import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from ..geometry import box_iou, box_to_region
from ..language.words import word_texts

_SSIM_WINDOW = 7  # scikit-image's default window side
_TOKEN = re.compile(r"[a-z0-9']+")


def ssim_outside(original, protected, mask):
    """Mean SSIM (map averaged over channels) over the pixels outside ``mask``;
    NaN when nothing lies outside or the image is under 3 px on a side."""
    outside = ~mask
    window = min(_SSIM_WINDOW, _largest_odd(min(original.shape[:2])))
    if not outside.any() or window < 3:
        return math.nan
    _, ssim_map = structural_similarity(
        original, protected, channel_axis=2, data_range=255, full=True, win_size=window
    )
    return float(ssim_map.mean(axis=2)[outside].mean())


def _largest_odd(n):
    return n if n % 2 else n - 1


def psnr_outside(original, protected, mask):
    """PSNR (dB) over the pixels outside ``mask``: inf when they are unchanged, NaN when there are none."""
    outside = ~mask
    if not outside.any():
        return math.nan
    before, after = original[outside], protected[outside]
    if np.array_equal(before, after):  # scikit-image would divide by zero
        return math.inf
    return float(peak_signal_noise_ratio(before, after, data_range=255))


def altered_fraction(original, protected):
    """Fraction of pixels where any channel differs."""
    return float(np.any(original != protected, axis=2).mean())


def protected_fraction(mask):
    return float(mask.mean())


def match_size(original, mask, shape):
    """Resize ``original`` and ``mask`` to ``shape[:2]``: the renderer may resize its output."""
    height, width = shape[:2]
    if original.shape[:2] == (height, width) and mask.shape == (height, width):
        return original, mask
    resized = cv2.resize(original, (width, height), interpolation=cv2.INTER_AREA)
    resized_mask = cv2.resize(mask.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST)
    return resized, resized_mask.astype(bool)


def centre_pixel(box):
    """(x, y) of the pixel holding the centre of a float xyxy box."""
    return math.floor((box[0] + box[2]) / 2), math.floor((box[1] + box[3]) / 2)


def centre_in_mask(box, mask):
    """Whether the box's centre pixel, clamped into the image, is set in ``mask``."""
    height, width = mask.shape
    x, y = centre_pixel(box)
    return bool(mask[min(max(y, 0), height - 1), min(max(x, 0), width - 1)])


def faces_in_mask(faces, mask, threshold):
    """Boxes of the faces scoring above ``threshold`` (None: accepted) whose box centre lies in ``mask``."""
    return [box for box, score in faces if (score is None or score > threshold) and centre_in_mask(box, mask)]


def zone_at(box, zones):
    """The strength zone (decision log ``strength_zones``) painted last over the box's centre pixel, or None."""
    x, y = centre_pixel(box)
    inside = [zone for zone in zones if zone["box_xyxy"][0] <= x < zone["box_xyxy"][2]
              and zone["box_xyxy"][1] <= y < zone["box_xyxy"][3]]
    return inside[-1] if inside else None


def blocks_across(box, zones):
    """Effective resolution of an obfuscated face: its box width over the block side (mosaic, pixelate,
    random mosaic) or the blur sigma of the zone painted last over its centre. NaN when no zone covers
    it, the zone has neither (noise), or the log predates strength zones (``zones`` None)."""
    zone = zone_at(box, zones or [])
    if zone is None:
        return math.nan
    scale = zone["block"] if zone.get("block") is not None else zone.get("sigma")
    return (box[2] - box[0]) / scale if scale else math.nan


def covered_boxes(boxes, mask, coverage):
    """Indices of the boxes whose pixels inside the image are at least ``coverage`` masked."""
    height, width = mask.shape
    covered = []
    for index, box in enumerate(boxes):
        region = box_to_region(box, width, height)
        if region is None:
            continue
        x0, y0, x1, y1 = region
        if mask[y0:y1, x0:x1].mean() >= coverage:
            covered.append(index)
    return covered


def redetected(boxes, detections, iou_threshold):
    """How many ``boxes`` a detection still matches, one to one, greedily by highest IoU."""
    pairs = sorted(
        ((box_iou(box, detection), i, j) for i, box in enumerate(boxes) for j, detection in enumerate(detections)),
        reverse=True,
    )
    matched_boxes, matched_detections = set(), set()
    for iou, i, j in pairs:
        if iou < iou_threshold:
            break
        if i not in matched_boxes and j not in matched_detections:
            matched_boxes.add(i)
            matched_detections.add(j)
    return len(matched_boxes)


def caption_tokens(text):
    return _TOKEN.findall(text.lower()) if text is not None else []


def words_kept(caption, words):
    """The words (strings, or dicts with "word") whose tokens still appear
    contiguously in ``caption``, in the given order; "living room" needs both tokens adjacent."""
    tokens = caption_tokens(caption)
    kept = []
    for word in word_texts(words):
        if _contains_sequence(tokens, caption_tokens(word)):
            kept.append(word)
    return kept


def _contains_sequence(tokens, sequence):
    n = len(sequence)
    return n > 0 and any(tokens[i : i + n] == sequence for i in range(len(tokens) - n + 1))


def caption_similarity(a, b):
    """Token F1 of caption ``b`` against ``a`` (multiset overlap); 1.0 when both are empty."""
    tokens_a, tokens_b = caption_tokens(a), caption_tokens(b)
    if not tokens_a and not tokens_b:
        return 1.0
    overlap = sum((Counter(tokens_a) & Counter(tokens_b)).values())
    if overlap == 0:
        return 0.0
    precision, recall = overlap / len(tokens_b), overlap / len(tokens_a)
    return 2 * precision * recall / (precision + recall)
