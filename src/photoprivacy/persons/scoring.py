"""Person importance: DETR attention, distance to the image centre, rank fusion.

Ranks are dense and ascending in importance: the least important value gets
rank 1, equal values share a rank, the next value gets the next integer. The
final score is ``w_attention * attention_rank + w_distance * distance_rank``;
the persons with the highest final scores are the majors.

Two rules (config.yaml: persons.rule):

- ``corrected``: the distance rank ranks closeness to the centre;
  a tie in the final score at the cut-off goes to the earlier detection.
- ``notebook``: the original notebook's ranking. Its second pass re-walked the
  attention order, so the "distance rank" it produced equals the attention
  rank and distance never mattered (README, "Differences from the original").
  A tie at the cut-off goes to the later detection, as in the notebook's own splits.
"""

import math

import numpy as np

from ..geometry import box_centre

SCORING_RULES = ("corrected", "notebook")
ATTENTION_SCALINGS = ("global", "column")


def attention_score(attention_map, scaling, cutoff):
    """Cells of the min-max scaled map above ``cutoff`` (persons.attention_cutoff).

    ``scaling`` (persons.attention_scaling): ``global`` scales over the whole map.
    ``column`` is the original's quirk: a column-wise scaler (scikit-learn's
    MinMaxScaler) applied to the (h, w) map, so each column is scaled on its own;
    a constant column scales to 0, as MinMaxScaler does. A constant or non-finite map scores 0.
    """
    values = np.asarray(attention_map, dtype=np.float64)
    if values.size == 0 or not np.isfinite(values).all():
        return 0
    if scaling == "global":
        low, span = values.min(), values.max() - values.min()
        if span <= 0:
            return 0
        scaled = (values - low) / span
    elif scaling == "column":
        low = values.min(axis=0)
        span = values.max(axis=0) - low
        scaled = (values - low) / np.where(span > 0, span, 1.0)
    else:
        raise ValueError(f"unknown attention scaling '{scaling}' (expected one of {ATTENTION_SCALINGS})")
    return int((scaled > cutoff).sum())


def distance_to_centre(box_xyxy, width, height):
    """Euclidean distance from the box centre to the image centre, in pixels."""
    cx, cy = box_centre(box_xyxy)
    return math.hypot(cx - width / 2.0, cy - height / 2.0)


def dense_ranks(values):
    """Dense ranks, ascending: smallest value -> 1, ties share a rank."""
    order = sorted(set(values))
    rank_of = {value: rank for rank, value in enumerate(order, start=1)}
    return [rank_of[value] for value in values]


def major_count(n_persons, fraction, min_persons, max_persons):
    """How many majors among ``n_persons``: the seed's rule with its limits configurable (persons.majors).

    Fewer than ``min_persons`` or more than ``max_persons`` persons: one major
    (none when there is nobody); otherwise ``int(fraction * n)``.
    """
    if n_persons == 0:
        return 0
    if n_persons < min_persons or n_persons > max_persons:
        return 1
    return min(int(fraction * n_persons), n_persons)


def rank_persons(attention_scores, distances, rule, weights):
    """Attention ranks, distance ranks and final scores of the persons.

    ``rule``: persons.rule; ``weights``: (attention, distance), persons.weights.

    ``attention_scores`` is None when there is no attention (annotation boxes):
    then the final score is the distance rank alone.
    """
    if rule not in SCORING_RULES:
        raise ValueError(f"unknown scoring rule '{rule}' (expected one of {SCORING_RULES})")
    # Closer is more important; rounding keeps float noise from splitting equal distances.
    closeness_ranks = dense_ranks([-round(d, 6) for d in distances])
    if attention_scores is None:
        return None, closeness_ranks, [float(r) for r in closeness_ranks]
    attention_ranks = dense_ranks(attention_scores)
    distance_ranks = attention_ranks if rule == "notebook" else closeness_ranks
    w_attention, w_distance = weights
    finals = [w_attention * a + w_distance * d for a, d in zip(attention_ranks, distance_ranks, strict=True)]
    return attention_ranks, distance_ranks, finals


def select_majors(final_scores, n_majors, rule):
    """Indices of the ``n_majors`` highest final scores, in detection order.

    Ties at the cut-off go to the earlier detection, or with the ``notebook``
    rule to the later one (as in the notebook's own major/minor splits: all 8
    of 52 cases the earlier choice missed were such ties). Scores are rounded so float noise cannot split a tie.
    """
    if rule not in SCORING_RULES:
        raise ValueError(f"unknown scoring rule '{rule}' (expected one of {SCORING_RULES})")
    later_first = -1 if rule == "notebook" else 1
    order = sorted(range(len(final_scores)), key=lambda i: (-round(final_scores[i], 9), later_first * i))
    return sorted(order[:n_majors])
