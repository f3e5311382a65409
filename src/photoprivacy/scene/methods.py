"""The relevance methods scene.relevance names, each a function of (model, pixel values,
class indexes) -> one relevance grid per image: gradient rollout (Chefer et al., ICCV 2021,
the default) or the original's LRP transformer attribution (CVPR 2021). Declared by path:
planning a run reads this without importing torch."""

from ..registry import Registry

RELEVANCE_METHODS = Registry("relevance method", "scene.relevance")
RELEVANCE_METHODS.declare("gradient_rollout", "photoprivacy.scene.relevance:relevance_grids")
RELEVANCE_METHODS.declare("transformer_attribution", "photoprivacy.scene.lrp:transformer_attribution_grids")
