"""The object detectors detect.method names: a builder each, from the detect stage's params
and the model folder (None for a method without a model).

A detector has ``name``, ``has_attention``, ``model_info`` and ``detect(images, relpaths)``. One
with a model also splits ``detect`` into ``prepare(images)`` (CPU work that never touches the
model, which the stage runs in its prefetch workers) and ``run(prepared, relpaths)``.
"""

from ..registry import Registry

OBJECT_DETECTORS = Registry("object detector", "detect.method")


@OBJECT_DETECTORS.register("detr", keys=("threshold", "short_side", "max_side"), model="detr", device=True,
                           execution=("half_precision",))
def detr(params, model_dir):
    from .detr import DetrDetector

    return DetrDetector(model_dir, params["threshold"], params["short_side"], params["max_side"], params["device"],
                        params["half_precision"])


@OBJECT_DETECTORS.register("annotations", keys=("annotations",), required=("annotations",), files=("annotations",))
def annotations(params, model_dir):
    from .annotations import AnnotationDetector

    return AnnotationDetector(params["annotations"])
