"""The obfuscation methods a config names: one registered class or function each.

``MASK_METHODS`` (render.scenario1.method) hide a scenario 1 mask; ``REGION_METHODS``
(render.minor.method) hide a person box or head region in scenario 2. Each is a class. The pixel
work is in ``obfuscate.py``; here is what else a method needs: which config keys
set its strength (its registration's ``keys``: the render stage's params hold only the
chosen method's), how relative strength scales it, and how far it reads outside its region.
"""

import math

from ..registry import Registry
from . import strength as strengths
from .obfuscate import gaussian_blur, gaussian_noise, mosaic_top_left, pixelate_mean, random_offset_mosaic

MASK_METHODS = Registry("scenario 1 obfuscation method", "render.scenario1.method")
REGION_METHODS = Registry("person obfuscation method", "render.minor.method")


class MaskMethod:
    """A scenario 1 method. Its ``strength`` is the one argument ``apply`` takes beyond the
    region: from the render.scenario1 keys it registered with, as they are (``fixed_strength``, strength mode
    original) or scaled to the face size a mask component may hold (``relative_strength``,
    mode relative, when the method is ``sized``: its effect depends on the size of what it hides)."""

    sized = True

    def fixed_strength(self, params):
        raise NotImplementedError

    def relative_strength(self, face_width, params):
        raise NotImplementedError

    def apply(self, image, region, rng, strength):
        """(image with ``region`` hidden, the parameters used, for the decision log)."""
        raise NotImplementedError

    def reach(self, strength):
        """How far outside its region the method reads pixels."""
        return 0

    def resolution(self, parameters):
        """(block side, blur sigma) in px from the parameters ``apply`` logged: what sets how many
        blocks (or sigmas) cross a face; (None, None) where neither does."""
        return None, None


@MASK_METHODS.register("random_mosaic", keys=("mosaic_half_sizes",))
class RandomMosaic(MaskMethod):
    """The original's mosaic: random patch size, each patch the colour of a random nearby pixel."""


    def fixed_strength(self, params):
        return tuple(params["mosaic_half_sizes"])

    def relative_strength(self, face_width, params):
        return strengths.mosaic_half_sizes(face_width, tuple(params["mosaic_half_sizes"]), params["strength"])

    def apply(self, image, region, rng, strength):
        processed, half = random_offset_mosaic(image, region, rng, tuple(strength))
        return processed, {"half_sizes": list(strength), "half_size": half}

    def reach(self, strength):
        return 2 * strength[1]  # the source pixel's offset from a patch centre

    def resolution(self, parameters):
        return 2 * parameters["half_size"] + 1, None  # the side of the patches drawn


@MASK_METHODS.register("pixelate", keys=("block_size",))
class Pixelate(MaskMethod):

    def fixed_strength(self, params):
        return params["block_size"]

    def relative_strength(self, face_width, params):
        return strengths.block_size(face_width, params["block_size"], params["strength"])

    def apply(self, image, region, rng, strength):
        return pixelate_mean(image, region, int(strength)), {"block_size": int(strength)}

    def resolution(self, parameters):
        return parameters["block_size"], None


@MASK_METHODS.register("blur", keys=("blur_kernel", "blur_sigma"))
class Blur(MaskMethod):

    def fixed_strength(self, params):
        return params["blur_kernel"], params["blur_sigma"]

    def relative_strength(self, face_width, params):
        sigma = strengths.blur_sigma(face_width, params["blur_sigma"], params["strength"])
        return strengths.blur_kernel(sigma, params["blur_kernel"], params["blur_sigma"]), sigma

    def apply(self, image, region, rng, strength):
        kernel, sigma = strength
        return gaussian_blur(image, region, sigma, kernel), {"kernel": kernel, "sigma": sigma}

    def reach(self, strength):
        return strength[0] // 2  # half the kernel

    def resolution(self, parameters):
        return None, parameters["sigma"]


@MASK_METHODS.register("noise", keys=("noise_sigma",))
class Noise(MaskMethod):
    sized = False

    def fixed_strength(self, params):
        return params["noise_sigma"]

    def apply(self, image, region, rng, strength):
        return gaussian_noise(image, region, rng, float(strength)), {"sigma": float(strength)}


class RegionMethod:
    """A scenario 2 method for a person box or head region; its ``strength`` (from the render.minor
    keys it registered with) is scaled to the face the region may hold."""

    logged_as = "block_size"  # the name of its strength in the decision log

    def strength(self, face_width, minor, settings):
        """From render.minor and render.strength (``settings``), for a region that may hold a face this wide."""
        raise NotImplementedError

    def apply(self, image, region, strength):
        """(image with ``region`` hidden, the parameters used, for the decision log)."""
        raise NotImplementedError

    def reach(self, strength):
        """How far outside its region the method reads pixels."""
        return 0

    def resolution(self, parameters):
        """(block side, blur sigma) in px, as ``MaskMethod.resolution``."""
        return parameters.get("block_size"), parameters.get("sigma")


@REGION_METHODS.register("mosaic", keys=("block_size",))
class Mosaic(RegionMethod):
    """The original's: blocks take the colour of their top-left pixel."""


    def strength(self, face_width, minor, settings):
        return strengths.block_size(face_width, minor["block_size"], settings)

    def apply(self, image, region, strength):
        return mosaic_top_left(image, region, strength), {self.logged_as: strength}


@REGION_METHODS.register("pixelate", keys=("block_size",))
class PixelateRegion(Mosaic):
    """Blocks take their mean colour."""

    def apply(self, image, region, strength):
        return pixelate_mean(image, region, strength), {self.logged_as: strength}


@REGION_METHODS.register("blur", keys=("blur_sigma",))
class BlurRegion(RegionMethod):
    logged_as = "sigma"

    def strength(self, face_width, minor, settings):
        return strengths.blur_sigma(face_width, minor["blur_sigma"], settings)

    def apply(self, image, region, strength):
        return gaussian_blur(image, region, strength), {self.logged_as: strength}

    def reach(self, strength):
        return math.ceil(3 * strength)  # half of gaussian_blur's default kernel
