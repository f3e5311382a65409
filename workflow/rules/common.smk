# Shared vocabulary of the workflow: config validation, the image table,
# shards, model locations and stage parameters. Helpers only, no rules.
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from photoprivacy import samples
from photoprivacy.errors import ConfigError
from photoprivacy.stages import STAGE_VERSIONS


validate(config, "../schemas/config.schema.yaml")

if config["detect"]["method"] == "annotations" and not config["detect"]["annotations"]:
    raise WorkflowError(
        "config key detect.annotations: required when detect.method is 'annotations'"
    )
if config["scene"]["train_images"] and not Path(config["scene"]["train_images"]).is_dir():
    raise WorkflowError(
        f"config key scene.train_images: folder '{config['scene']['train_images']}' does not exist"
    )
if config["fakes"]["generator"] == "donor" and not config["fakes"]["donor_folder"]:
    raise WorkflowError(
        "config key fakes.donor_folder: required when fakes.generator is 'donor'"
    )

try:
    IMAGES = samples.collect_images(config["input"])
except ConfigError as error:
    raise WorkflowError(str(error)) from None

SHARDS = samples.assign_shards(IMAGES, config["execution"]["shards"])
MODELS_DIR = config["models"]["dir"]


wildcard_constraints:
    image_id=samples.ID_PATTERN,
    family="[a-z0-9_]+",
    size="tiny|full",


def image_relpath(image_id):
    """Path of an image as the user knows it (relative to the input folder when there is one)."""
    path = Path(IMAGES[image_id])
    if config["input"]["sample_sheet"]:
        return path.as_posix()
    return path.relative_to(config["input"]["images"]).as_posix()


def shard_items(shard, files):
    """What a shard job processes: one dict per image with its source and its
    input and output files (``files`` maps a key to a pattern with {image_id})."""
    items = []
    for image_id in SHARDS[shard]:
        item = {"id": image_id, "path": str(IMAGES[image_id]), "relpath": image_relpath(image_id)}
        item["source"] = item["relpath"]
        item.update({key: pattern.format(image_id=image_id) for key, pattern in files.items()})
        items.append(item)
    return items


def shard_outputs(shard, pattern):
    return expand(pattern, image_id=SHARDS[shard])


def model_dir(family):
    if config["offline"]:
        return f"{MODELS_DIR}/offline/{family}-{config['models']['offline_size']}"
    return f"{MODELS_DIR}/hub/{family}"


def model_manifest(family):
    return f"{model_dir(family)}/manifest.json"


def model_params(family):
    """The model's identity, part of every stage's params that uses it."""
    if config["offline"]:
        return {
            "source": "offline",
            "family": family,
            "size": config["models"]["offline_size"],
            "seed": config["models"]["offline_seed"],
        }
    spec = config["models"][family]
    return {"source": "hub", "id": spec["id"], "revision": spec["revision"]}


def job_resources(stage):
    return config["resources"][stage]


def detect_params():
    """Everything that changes detection output; a change reruns detection and what follows."""
    settings = config["detect"]
    params = {"version": STAGE_VERSIONS["detect"], "method": settings["method"]}
    if settings["method"] == "annotations":
        params["annotations"] = settings["annotations"]
    else:
        params.update(
            model=model_params("detr"),
            threshold=settings["threshold"],
            short_side=settings["short_side"],
            max_side=settings["max_side"],
            # Padding to the batch's largest image changes DETR's numbers slightly.
            batch_size=config["execution"]["batch_size"],
            half_precision=config["execution"]["half_precision"],
        )
    return params


def persons_params():
    return {"version": STAGE_VERSIONS["persons"], **config["persons"]}


def faces_params():
    settings = config["faces"]
    params = {"version": STAGE_VERSIONS["faces"], "detector": settings["detector"]}
    if settings["detector"] == "centerface":
        params["threshold"] = settings["threshold"]
    else:
        params["haar_growth"] = settings["haar_growth"]
    return params


def fakes_params():
    settings = config["fakes"]
    params = {"version": STAGE_VERSIONS["fakes"], "generator": settings["generator"], "seed": config["seed"]}
    if settings["generator"] == "diffusion":
        params.update(model=model_params("face_generator"), steps=settings["steps"])
    elif settings["generator"] == "donor":
        params["donor_folder"] = settings["donor_folder"]
    return params


def fakes_model_input():
    if config["fakes"]["generator"] == "diffusion":
        return [model_manifest("face_generator")]
    return []


def render_scenario2_params():
    return {
        "version": STAGE_VERSIONS["render_scenario2"],
        "variant": config["variant"],
        "seed": config["seed"],
        "generator": config["fakes"]["generator"],
        "max_image_pixels": config["execution"]["max_image_pixels"],
        "minor": config["render"]["minor"],
        "face": config["render"]["face"],
    }


def detect_model_input():
    if config["detect"]["method"] == "annotations":
        return config["detect"]["annotations"]
    return model_manifest("detr")


def captioner_family():
    return f"captioner_{config['caption']['model']}"


def caption_params():
    return {"version": STAGE_VERSIONS["caption"], "model": model_params(captioner_family()), **config["caption"]}


def language_params():
    settings = config["language"]
    params = {"version": STAGE_VERSIONS["language"], "method": settings["method"]}
    if settings["method"] == "dependency":
        params["spacy_model"] = settings["spacy_model"]
    else:
        params.update(model=model_params("bert"), **settings["bert"])
    return params


def language_model_input():
    if config["language"]["method"] == "bert_attention":
        return [model_manifest("bert")]
    return []


def relations_params():
    return {"version": STAGE_VERSIONS["relations"], **config["relations"]}


def train_scene_params():
    settings = config["scene"]
    return {
        "base": model_params("scene_classifier"),
        "steps": settings["train_steps"],
        "batch_size": settings["train_batch_size"],
        "learning_rate": settings["train_learning_rate"],
        "seed": config["seed"],
    }


def scene_model_input():
    """The fine-tuned classifier when scene.train_images is set, else the pretrained one."""
    if config["scene"]["train_images"]:
        return TRAINED_SCENE_MANIFEST
    return model_manifest("scene_classifier")


def scene_params():
    params = {"version": STAGE_VERSIONS["scene"], "top_k": config["scene"]["top_k"]}
    if config["scene"]["train_images"]:
        params["trained"] = {"images": config["scene"]["train_images"], **train_scene_params()}
    else:
        params["model"] = model_params("scene_classifier")
    return params


def masks_params():
    return {"version": STAGE_VERSIONS["masks"], **config["masks"]}


def render_scenario1_params():
    return {
        "version": STAGE_VERSIONS["render_scenario1"],
        "variant": config["variant"],
        "seed": config["seed"],
        "max_image_pixels": config["execution"]["max_image_pixels"],
        **config["render"]["scenario1"],
    }


def final_output(scenario, kind):
    """Pattern of a final output of this run's variant: png or decisions."""
    suffix = {"png": "png", "decisions": "decisions.json"}[kind]
    return f"results/final/{config['variant']}/{scenario}/{{image_id}}.{suffix}"


def get_final_outputs():
    ids = sorted(IMAGES)
    finals = [
        path
        for scenario in ("scenario1", "scenario2")
        for kind in ("png", "decisions")
        for path in expand(final_output(scenario, kind), image_id=ids)
    ]
    return [*finals, "results/summary/rejected.tsv"]
