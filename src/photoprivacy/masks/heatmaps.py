"""Attention and relevance grids upsampled onto the photo and min-max normalised.

Two upsamplings (config.yaml's masks.word_upsampling picks the word maps' one;
the scene's relevance map is always bilinear, ``SCENE_UPSAMPLING``):

- ``bilinear``: the grid straight to the photo's size
  (``align_corners=False``).
- ``pyramid``: the original's word maps, ``skimage.transform.pyramid_expand``
  with upscale 24 and sigma 8 (a 14x14 map becomes a smooth 336x336 one),
  then bilinear to the photo's size; at 336 x 336 from a 14x14 grid that
  last step changes nothing.
"""

import numpy as np
import torch
import torch.nn.functional as F

UPSAMPLINGS = ("bilinear", "pyramid")
PYRAMID_UPSCALE = 24  # the original's pyramid_expand(alpha, upscale=24, sigma=8)
PYRAMID_SIGMA = 8.0
SCENE_UPSAMPLING = "bilinear"  # of the scene relevance map: the method's, not a config key


def bilinear(values, height, width):
    """float32 (height, width): bilinear with align_corners=False."""
    if values.shape == (height, width):
        return values.astype(np.float32)
    tensor = torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32))[None, None]
    return F.interpolate(tensor, size=(height, width), mode="bilinear", align_corners=False)[0, 0].numpy()


def pyramid(values, height, width):
    """The original's Gaussian pyramid expansion, then bilinear to (height, width)."""
    from skimage.transform import pyramid_expand

    expanded = pyramid_expand(np.asarray(values, dtype=np.float64), upscale=PYRAMID_UPSCALE, sigma=PYRAMID_SIGMA)
    return bilinear(expanded, height, width)


def upsample_and_normalise(grid, height, width, upsampling):
    """``grid`` upsampled (one of ``UPSAMPLINGS``) to (height, width), then min-max scaled to [0, 1].

    A map with NaN/inf, or one that is constant (all zeros included), carries
    no ranking of pixels: it gives zeros and the reason, so the caller can log
    it instead of crashing. Returns ``(map float32 (height, width), reason)``.
    """
    if upsampling not in UPSAMPLINGS:
        raise ValueError(f"unknown upsampling '{upsampling}' (expected one of {UPSAMPLINGS})")
    values = np.asarray(grid, dtype=np.float32)
    empty = np.zeros((height, width), dtype=np.float32)
    if not np.isfinite(values).all():
        return empty, "relevance map has non-finite values"
    if values.size == 0 or values.max() == values.min():
        return empty, "relevance map is constant"
    upsampled = (pyramid if upsampling == "pyramid" else bilinear)(values, height, width)
    low, span = upsampled.min(), upsampled.max() - upsampled.min()
    if not span > 0:
        return empty, "relevance map is constant"
    return ((upsampled - low) / span).astype(np.float32), None
