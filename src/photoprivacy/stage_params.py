"""What each stage's params hold: every config value its script reads, and nothing else.

Snakemake reruns a job whose params changed, so a key belongs here exactly when changing it
changes what the stage writes. That includes the execution keys where a model runs: the
device and the batch size change its numbers (float rounding, padding to the batch's largest
image). Each builder takes a whole config (the run's, or a sweep variant's merged over it);
the workflow (workflow/rules/*.smk) passes them to its rules.

A plug-in's part comes from what its registry entry declares (``plugin``), so a new
detector, captioner, language method, relevance method, face detector, face generator or
obfuscation method needs no change here.
"""

from .caption.captioners import CAPTIONERS
from .detection.detectors import OBJECT_DETECTORS
from .faces.detectors import FACE_DETECTORS
from .faces.generators import FACE_GENERATORS
from .language.methods import LANGUAGE_METHODS
from .render.methods import MASK_METHODS, REGION_METHODS
from .render.scenario2 import face_settings
from .scene.methods import RELEVANCE_METHODS
from .stages import STAGE_VERSIONS


def model_identity(cfg, family):
    """The identity of the family's model, part of the params of every stage that loads it."""
    if cfg["offline"]:
        models = cfg["models"]
        return {"source": "offline", "family": family, "size": models["offline_size"], "seed": models["offline_seed"]}
    spec = cfg["models"][family]
    return {"source": "hub", "id": spec["id"], "revision": spec["revision"]}


def plugin(registry, cfg):
    """What a stage's params hold of the implementation ``cfg`` chooses from ``registry``: its
    config section without other implementations' keys, the execution keys it reads and, under
    ``weights``, the identity of its model (``registry.Entry``)."""
    entry = registry.chosen(cfg)
    params = {**registry.settings(cfg), **registry.execution(cfg)}
    if entry.model:
        params["weights"] = model_identity(cfg, entry.model)
    return params


def detect(cfg):
    # Annotations are read in batches too (the batch size changes nothing they give).
    return {"version": STAGE_VERSIONS["detect"], **plugin(OBJECT_DETECTORS, cfg),
            "batch_size": cfg["execution"]["batch_size"]}


def caption(cfg):
    # `model` is the captioner (blip, vit_gpt2); `weights` its model's id and revision.
    return {"version": STAGE_VERSIONS["caption"], **plugin(CAPTIONERS, cfg)}


def language(cfg):
    # spaCy: the model `auto` resolves to, with its version; installing another one reruns the stage.
    return {"version": STAGE_VERSIONS["language"], **plugin(LANGUAGE_METHODS, cfg)}


def relations(cfg):
    return {"version": STAGE_VERSIONS["relations"], **cfg["relations"]}


def train_scene(cfg):
    settings = cfg["scene"]
    return {
        "base": model_identity(cfg, "scene_classifier"),
        "steps": settings["train_steps"],
        "batch_size": settings["train_batch_size"],
        "learning_rate": settings["train_learning_rate"],
        "seed": cfg["seed"],
        "preprocessing": settings["preprocessing"],
        "device": cfg["execution"]["device"],
    }


def scene(cfg):
    # A batch shares one backward pass: maps agree with one-image passes to about 1e-6.
    # The train_* keys count only when a classifier is trained (under `trained`).
    settings = {key: value for key, value in plugin(RELEVANCE_METHODS, cfg).items() if not key.startswith("train_")}
    params = {"version": STAGE_VERSIONS["scene"], **settings, "device": cfg["execution"]["device"],
              "batch_size": cfg["execution"]["batch_size"]}
    if cfg["scene"]["train_images"]:
        params["trained"] = {"images": cfg["scene"]["train_images"], **train_scene(cfg)}
    else:
        params["model"] = model_identity(cfg, "scene_classifier")
    return params


def masks(cfg):
    return {"version": STAGE_VERSIONS["masks"], **cfg["masks"]}


def persons(cfg):
    return {"version": STAGE_VERSIONS["persons"], **cfg["persons"]}


def faces(cfg):
    return {"version": STAGE_VERSIONS["faces"], **plugin(FACE_DETECTORS, cfg)}


def fakes(cfg):
    # Diffusion faces share UNet calls in batches, whose rounding differs by a level at most.
    return {"version": STAGE_VERSIONS["fakes"], **plugin(FACE_GENERATORS, cfg), "seed": cfg["seed"]}


def render_scenario1(cfg):
    return {
        "version": STAGE_VERSIONS["render_scenario1"],
        "variant": cfg["variant"],
        "seed": cfg["seed"],
        "max_image_pixels": cfg["execution"]["max_image_pixels"],
        "strength": cfg["render"]["strength"],
        **MASK_METHODS.settings(cfg),
    }


def render_scenario2(cfg):
    # Only the keys scenario 2 reads with the chosen minor method and face generator.
    generator = cfg["fakes"]["generator"]
    return {
        "version": STAGE_VERSIONS["render_scenario2"],
        "variant": cfg["variant"],
        "seed": cfg["seed"],
        "generator": generator,
        "max_image_pixels": cfg["execution"]["max_image_pixels"],
        "strength": cfg["render"]["strength"],
        "minor": REGION_METHODS.settings(cfg),
        "face": face_settings(cfg["render"]["face"], generator),
    }


def evaluate_models(cfg):
    """Input name -> registry, for the models evaluation runs on protected photos: the
    detector (evaluate.redetect_persons, when the chosen one has a model) and the captioner
    (evaluate.recaption)."""
    models = {}
    if cfg["evaluate"]["redetect_persons"] and OBJECT_DETECTORS.chosen(cfg).model:
        models["detector"] = OBJECT_DETECTORS
    if cfg["evaluate"]["recaption"]:
        models["captioner"] = CAPTIONERS
    return models


def evaluate(cfg, scenario):
    """What a variant's metrics depend on besides its protected photos."""
    params = {"version": STAGE_VERSIONS["evaluate"], "variant": cfg["variant"], "scenario": scenario,
              "evaluate": cfg["evaluate"], "batch_size": cfg["execution"]["batch_size"],
              "max_image_pixels": cfg["execution"]["max_image_pixels"]}
    if scenario == "scenario1":  # the protected region is the cleaned union of these components
        params["render"] = {key: cfg["render"]["scenario1"][key] for key in ("components", "clean_kernel")}
    models = evaluate_models(cfg)
    if "detector" in models:
        params["detector"] = {key: value for key, value in detect(cfg).items() if key != "batch_size"}
    if "captioner" in models:
        params["captioner"] = {key: value for key, value in caption(cfg).items()
                               if key in ("model", "weights", "max_new_tokens", "num_beams", "device")}
    return params


def tracks(cfg):
    # The persons and faces stages' settings reach the tracks through their files.
    video = cfg["video"]
    return {"version": STAGE_VERSIONS["tracks"], "min_iou": video["min_iou"], "memory": video["memory"],
            "face_smoothing": video["face_smoothing"], "majors": cfg["persons"]["majors"]}


def render_video(cfg, scenario):
    """A video's rendering: the photo renderer's params, and for scenario 1 where its masks come from."""
    video_version = STAGE_VERSIONS["render_video"]
    if scenario == "scenario2":
        return {**render_scenario2(cfg), "video_version": video_version}
    return {**render_scenario1(cfg), "video_version": video_version, "scenario1_every": cfg["video"]["scenario1_every"],
            "object_predicates": cfg["masks"]["object_predicates"]}


def encode_video(cfg):
    video = cfg["video"]
    return {"version": STAGE_VERSIONS["encode_video"], "codec": video["codec"], "crf": video["crf"],
            "keep_audio": video["keep_audio"]}


def evaluate_video(cfg, scenario):
    settings = cfg["evaluate"]
    params = {"version": STAGE_VERSIONS["evaluate_video"], "variant": cfg["variant"], "scenario": scenario,
              "evaluate": {key: settings[key] for key in ("face_threshold", "iou", "face_max_side")},
              "identity_every": cfg["video"]["identity_every"],
              "max_image_pixels": cfg["execution"]["max_image_pixels"]}
    if scenario == "scenario1":
        params["render"] = {key: cfg["render"]["scenario1"][key] for key in ("components", "clean_kernel", "resize")}
        params["scenario1_every"] = cfg["video"]["scenario1_every"]
        params["object_predicates"] = cfg["masks"]["object_predicates"]
    return params
