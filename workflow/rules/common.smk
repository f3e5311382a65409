# Shared vocabulary of the workflow: config validation, the image table,
# shards, model locations and stage parameters. Helpers only, no rules.
import functools
import os
import re
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from photoprivacy import samples, sweeps
from photoprivacy.errors import ConfigError, ModelNotAvailable
from photoprivacy.language import spacy_model
from photoprivacy.models.store import MANIFEST, VERIFY_ENV, listed_files
from photoprivacy.render.methods import MASK_METHODS, REGION_METHODS, chosen_method_settings
from photoprivacy.render.scenario2 import face_settings
from photoprivacy.stages import STAGE_VERSIONS


CONFIG_SCHEMA = "../schemas/config.schema.yaml"
validate(config, CONFIG_SCHEMA)


def check_config(cfg, where=""):
    """Rules between keys that the schema cannot say; ``where`` names a sweep variant."""
    if cfg["detect"]["method"] == "annotations" and not cfg["detect"]["annotations"]:
        raise WorkflowError("config key detect.annotations: required when detect.method is 'annotations'")
    if cfg["scene"]["train_images"] and not Path(cfg["scene"]["train_images"]).is_dir():
        raise WorkflowError(
            f"config key scene.train_images: folder '{cfg['scene']['train_images']}' does not exist"
        )
    if cfg["fakes"]["generator"] == "donor" and not cfg["fakes"]["donor_folder"]:
        raise WorkflowError(f"config key {where}fakes.donor_folder: required when fakes.generator is 'donor'")


check_config(config)
BASE_VARIANT = config["variant"]
try:
    VARIANTS = sweeps.variant_configs(config)
except ConfigError as error:
    raise WorkflowError(str(error)) from None
for _name, _cfg in VARIANTS.items():
    if _name != BASE_VARIANT:
        try:
            validate(_cfg, CONFIG_SCHEMA)
        except WorkflowError as error:
            raise WorkflowError(f"config key sweep.variants.{_name}: {error}") from None
        check_config(_cfg, f"sweep.variants.{_name}.")

try:
    IMAGES = samples.collect_images(config["input"])
except ConfigError as error:
    raise WorkflowError(str(error)) from None

SHARDS = samples.assign_shards(IMAGES, config["execution"]["shards"])
# A model stage runs execution.model_jobs jobs, each over a run of shards (photoprivacy.model_jobs):
# every job pays imports, device start-up and the model load before its first image.
MODEL_JOBS = samples.group_shards(SHARDS, config["execution"]["model_jobs"])
MODELS_DIR = config["models"]["dir"]


wildcard_constraints:
    image_id=samples.ID_PATTERN,
    family="[a-z0-9_]+",
    size="tiny|full",


def image_relpaths():
    """Path of each image as the user knows it (relative to the input folder when there is one)."""
    if config["input"]["sample_sheet"]:
        return {image_id: Path(path).as_posix() for image_id, path in IMAGES.items()}
    folder = str(Path(config["input"]["images"])) + os.sep  # images were found below it
    return {image_id: str(path).removeprefix(folder) for image_id, path in IMAGES.items()}


# The intake index of each shard lists these (rule images_<shard>).
IMAGE_ITEMS = {
    image_id: {"id": image_id, "path": str(IMAGES[image_id]), "relpath": relpath}
    for image_id, relpath in image_relpaths().items()
}


# ---------------------------------------------------------------- shard indexes
# A shard job declares one output, its index (results/shards/...: one row per
# image with the files it wrote), and later stages depend on indexes. Per-image
# files stay the product, but declaring each of them made Snakemake spend about
# 0.5 ms per file in planning (17 files per photo). A per-image file is declared
# only where Snakemake must see it: missing although its shard's index exists
# (deleted by hand: rule all and rule protect ask for it, so it is made again),
# or named on the command line and missing (built on demand). One that exists
# and is named gets a rule of its own (rules/by_name.smk).
SHARD_OF = {image_id: shard for shard, ids in SHARDS.items() for image_id in ids}


def shard_index(stage, shard, variant=None):
    """Index of a shard job: results/shards/<stage>/[<variant>/]<shard>.tsv."""
    if variant:
        return f"results/shards/{stage}/{variant}/{shard}.tsv"
    return f"results/shards/{stage}/{shard}.tsv"


def requested_files():
    """Files named on Snakemake's command line (the Snakefile is read before Snakemake
    hands its targets to the workflow, so they are parsed here from the arguments)."""
    from snakemake.cli import get_argument_parser

    try:
        arguments, _ = get_argument_parser().parse_known_args(sys.argv[1:])
    except SystemExit:  # not Snakemake's command line (Snakemake used as a library)
        return set()
    return {os.path.normpath(target) for target in arguments.targets or []}


REQUESTED = requested_files()


@functools.cache
def folder_listing(folder):
    try:
        return frozenset(os.listdir(folder))
    except FileNotFoundError:
        return frozenset()


MISSING_FILES = []  # per-image files missing from finished shards, filled while rules are defined
NAMED_FILES = {}  # existing per-image file named on the command line -> its shard job's index


def shard_job_outputs(index, shard, patterns):
    """Declared outputs of a shard job: ``index``, then, per key of ``patterns`` (per-image
    paths with {image_id}), the files that are missing from a finished shard or requested."""
    finished = os.path.exists(index)
    outputs = {"index": index}
    for key, pattern in patterns.items():
        outputs[key] = []
        if not finished and not REQUESTED:
            continue
        folder, name = os.path.split(pattern)
        present = folder_listing(folder) if finished else frozenset()
        for image_id in SHARDS[shard]:
            filename = name.format(image_id=image_id)
            path = f"{folder}/{filename}"
            missing = finished and filename not in present
            if finished and not missing and path in REQUESTED:
                NAMED_FILES[path] = index  # see rules/by_name.smk
            elif missing or path in REQUESTED:
                outputs[key].append(path)
            if missing:
                MISSING_FILES.append(path)
    return outputs


MODEL_JOB_OF = {shard: job for job, shards in MODEL_JOBS.items() for shard in shards}


def model_indexes(stage, shards, group=None):
    """Input function: the indexes of ``shards`` written by a model stage's jobs (of a variant's
    settings ``group``). Those jobs are checkpoints and their indexes are asked for through
    checkpoints.<job>.get(), so Snakemake plans what follows again once they ran: a shard whose
    index came back unchanged (it reused its record, photoprivacy.model_jobs) reruns nothing
    after it, as when each shard had its own job."""
    group = group or BASE_VARIANT

    def indexes(wildcards):
        for job in dict.fromkeys(MODEL_JOB_OF[shard] for shard in shards):
            getattr(checkpoints, rule_name(stage, job, group)).get()
        return [scoped(shard_index(stage, shard), group) for shard in shards]

    return indexes


SCENE_MODELS = ("detect", "caption", "language", "scene")  # the model stages scenario 1 builds on


def after_model_jobs(stages, shards, group=None):
    """Input function that adds no file but asks for the model jobs of ``stages`` (over
    ``shards``) as model_indexes does. A job that reads model outputs only through other jobs'
    files takes it: Snakemake plans a job again after a checkpoint only if it asked for that
    checkpoint, and otherwise keeps it planned to rerun once anything before it was."""

    def after(wildcards):
        for stage in stages:
            model_indexes(stage, shards, group)(wildcards)
        return []

    return after


def after_every_model_job(wildcards):
    """after_model_jobs of every model stage, shard and settings group (for the run's aggregates)."""
    after_model_jobs(SCENE_MODELS, list(SHARDS))(wildcards)
    for group in stage_groups("fakes"):
        after_model_jobs(["fakes"], list(SHARDS), group)(wildcards)
    return []


def job_outputs(stage_index, shards, patterns):
    """Declared outputs of a job over ``shards`` (shard_job_outputs of each, merged): ``index``,
    ``stage_index(shard)`` of each shard, then per key of ``patterns`` its per-image files."""
    outputs = {"index": [], **{key: [] for key in patterns}}
    for shard in shards:
        for key, value in shard_job_outputs(stage_index(shard), shard, patterns).items():
            outputs[key].extend([value] if key == "index" else value)
    return outputs


def job_threads(stage):
    """Threads of a model stage's jobs (resources.<stage>.threads): on a GPU, what its CPU side
    needs (decoding, preprocessing, writing); on the CPU, the model's threads too."""
    return config["resources"][stage]["threads"]


def model_dir(family):
    if config["offline"]:
        return f"{MODELS_DIR}/offline/{family}-{config['models']['offline_size']}"
    return f"{MODELS_DIR}/hub/{family}"


# models.verify (fast | full) reaches the jobs through the environment, not through params:
# it sets how much of a model folder a job hashes before loading it, never what the job
# writes, so changing it must rerun nothing (Snakemake reruns a job whose params changed).
# Local jobs inherit this process's environment; a cluster job's own Snakemake reads the
# config and sets it again here.
os.environ[VERIFY_ENV] = config["models"]["verify"]


@functools.cache
def missing_model_files(folder):
    """Files that the manifest of model ``folder`` lists and the folder lacks (deleted by
    hand): a read of the manifest and a stat per file at planning."""
    return tuple(name for name in listed_files(folder) if not os.path.isfile(os.path.join(folder, name)))


RESTORED_MODELS = set()  # families whose missing files rule all and rule protect ask for


def model_manifest(family):
    """The manifest of the family's folder, which stages take as their model input.

    A file the manifest lists that was deleted is made again by the folder's rule (its
    restore_model_<family> rule declares it, rules/models.smk) because rule all and rule protect
    ask for it (MISSING_FILES). The manifest is then `ancient` for the stages: a job that
    reruns does not make the jobs that depend on its outputs rerun. The rebuilt files and
    manifest have the same bytes (same revision or seed), so in later runs Snakemake finds
    the manifest newer than the stages' outputs but with the checksum it recorded for them,
    and reruns nothing; a manifest that does change reruns them then.
    """
    path = f"{model_dir(family)}/{MANIFEST}"
    missing = missing_model_files(model_dir(family))
    if not missing:
        return path
    if family not in RESTORED_MODELS:
        RESTORED_MODELS.add(family)
        MISSING_FILES.extend(f"{model_dir(family)}/{name}" for name in missing)
    return ancient(path)


def restore_outputs(family):
    """Outputs of the family's restore_model_<family> rule (rules/models.smk), the manifest and
    the files it lists that are missing from the family's folder."""
    folder = f"{MODELS_DIR}/offline/{{family}}-{{size}}" if config["offline"] else f"{MODELS_DIR}/hub/{{family}}"
    missing = missing_model_files(model_dir(family))
    return {"manifest": update(f"{folder}/{MANIFEST}"), "restored": [f"{folder}/{name}" for name in missing]}


def restore_family(family):
    """Wildcard constraint of the family's restore_model_<family> rule, the family while a file
    of its folder is missing, else a pattern that matches nothing."""
    return re.escape(family) if missing_model_files(model_dir(family)) else "(?!)"


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


def partition_resource(stage, applies=True):
    """``slurm_partition`` of a stage's jobs, to unpack into its resources: the partition
    of resources.<stage>.slurm_partition, or nothing when that is null or ``applies`` is
    false (a stage that needs no GPU this time), so the job gets the profile's default
    partition. A resource may not be None, hence no key rather than a null one.
    Resources are no params: changing a partition reruns nothing."""
    partition = job_resources(stage).get("slurm_partition")
    return {"slurm_partition": partition} if partition and applies else {}


# A job's params hold every config value its script reads: Snakemake reruns a job whose
# params changed. That includes the execution keys where a model runs: the device and the
# batch size change its numbers (float rounding, padding to the batch's largest image).


def model_execution(cfg):
    """The execution keys of a stage that runs a model on the device, in batches."""
    return {"device": cfg["execution"]["device"], "batch_size": cfg["execution"]["batch_size"]}


def detect_params():
    """Everything that changes detection output; a change reruns detection and what follows."""
    settings = config["detect"]
    # Annotations are read in batches too (the batch size changes nothing they give).
    params = {"version": STAGE_VERSIONS["detect"], "method": settings["method"],
              "batch_size": config["execution"]["batch_size"]}
    if settings["method"] == "annotations":
        params["annotations"] = settings["annotations"]
    else:
        params.update(
            model=model_params("detr"),
            threshold=settings["threshold"],
            short_side=settings["short_side"],
            max_side=settings["max_side"],
            half_precision=config["execution"]["half_precision"],
            **model_execution(config),
        )
    return params


def persons_params(cfg):
    return {"version": STAGE_VERSIONS["persons"], **cfg["persons"]}


def faces_params(cfg):
    settings = cfg["faces"]
    params = {"version": STAGE_VERSIONS["faces"], "detector": settings["detector"], "max_side": settings["max_side"]}
    if settings["detector"] == "centerface":
        params["threshold"] = settings["threshold"]
    else:
        params["haar_growth"] = settings["haar_growth"]
    return params


def fakes_params(cfg):
    settings = cfg["fakes"]
    params = {"version": STAGE_VERSIONS["fakes"], "generator": settings["generator"], "seed": cfg["seed"]}
    if settings["generator"] == "diffusion":
        # faces share UNet calls in batches, whose rounding differs by a level at most
        params.update(model=model_params("face_generator"), steps=settings["steps"], **model_execution(cfg),
                      half_precision=cfg["execution"]["half_precision"])  # float16 UNet on CUDA
    elif settings["generator"] == "donor":
        params.update(donor_folder=settings["donor_folder"], max_image_pixels=cfg["execution"]["max_image_pixels"])
    return params


def fakes_model_input(cfg):
    if cfg["fakes"]["generator"] == "diffusion":
        return [model_manifest("face_generator")]
    return []


def render_scenario2_params(cfg):
    # Only the keys scenario 2 reads with the chosen minor method and face generator.
    generator = cfg["fakes"]["generator"]
    return {
        "version": STAGE_VERSIONS["render_scenario2"],
        "variant": cfg["variant"],
        "seed": cfg["seed"],
        "generator": generator,
        "max_image_pixels": cfg["execution"]["max_image_pixels"],
        "strength": cfg["render"]["strength"],
        "minor": chosen_method_settings(REGION_METHODS, cfg["render"]["minor"]),
        "face": face_settings(cfg["render"]["face"], generator),
    }


def detect_model_input():
    if config["detect"]["method"] == "annotations":
        return config["detect"]["annotations"]
    return model_manifest("detr")


def captioner_family():
    return f"captioner_{config['caption']['model']}"


def caption_params():
    # `model` is the captioner kind (blip, vit_gpt2); `weights` its id and revision.
    return {"version": STAGE_VERSIONS["caption"], **config["caption"], "weights": model_params(captioner_family()),
            **model_execution(config)}


def language_params():
    settings = config["language"]
    params = {"version": STAGE_VERSIONS["language"], "method": settings["method"]}
    if settings["method"] == "dependency":
        # The model `auto` resolves to, with its version: installing another one reruns the stage.
        try:
            params["spacy_model"] = spacy_model.resolve_model(settings["spacy_model"])
        except ModelNotAvailable as error:
            raise WorkflowError(str(error)) from None
    else:
        params.update(model=model_params("bert"), **settings["bert"], device=config["execution"]["device"])
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
        "preprocessing": settings["preprocessing"],
        "device": config["execution"]["device"],
    }


def scene_model_input():
    """The fine-tuned classifier when scene.train_images is set, else the pretrained one."""
    if config["scene"]["train_images"]:
        return TRAINED_SCENE_MANIFEST
    return model_manifest("scene_classifier")


def scene_params():
    # A batch shares one backward pass: maps agree with one-image passes to about 1e-6.
    params = {"version": STAGE_VERSIONS["scene"], **model_execution(config),
              **{key: config["scene"][key] for key in ("top_k", "relevance", "preprocessing")}}
    if config["scene"]["train_images"]:
        params["trained"] = {"images": config["scene"]["train_images"], **train_scene_params()}
    else:
        params["model"] = model_params("scene_classifier")
    return params


def masks_params(cfg):
    return {"version": STAGE_VERSIONS["masks"], **cfg["masks"]}


def render_scenario1_params(cfg):
    return {
        "version": STAGE_VERSIONS["render_scenario1"],
        "variant": cfg["variant"],
        "seed": cfg["seed"],
        "max_image_pixels": cfg["execution"]["max_image_pixels"],
        "strength": cfg["render"]["strength"],
        **chosen_method_settings(MASK_METHODS, cfg["render"]["scenario1"]),
    }


def evaluate_params(cfg, scenario):
    """What a variant's metrics depend on besides its protected photos."""
    settings = config["evaluate"]
    params = {"version": STAGE_VERSIONS["evaluate"], "variant": cfg["variant"], "scenario": scenario,
              "evaluate": settings, "batch_size": config["execution"]["batch_size"],
              "max_image_pixels": config["execution"]["max_image_pixels"]}
    if scenario == "scenario1":  # the protected region is the cleaned union of these components
        params["render"] = {key: cfg["render"]["scenario1"][key] for key in ("components", "clean_kernel")}
    if settings["redetect_persons"] and config["detect"]["method"] == "detr":
        params["detector"] = {key: value for key, value in detect_params().items() if key != "batch_size"}
    if settings["recaption"]:
        caption = config["caption"]
        params["captioner"] = {"model": caption["model"], "weights": model_params(captioner_family()),
                               "max_new_tokens": caption["max_new_tokens"], "num_beams": caption["num_beams"],
                               "device": config["execution"]["device"]}
    return params


def evaluate_model_inputs():
    inputs = {}
    if config["evaluate"]["redetect_persons"] and config["detect"]["method"] == "detr":
        inputs["detector"] = model_manifest("detr")
    if config["evaluate"]["recaption"]:
        inputs["captioner"] = model_manifest(captioner_family())
    return inputs


def metrics_shard_table(variant, scenario, shard, kind="csv"):
    """An evaluate job's image rows (kind "csv") or face rows (kind "faces.parquet")."""
    return f"results/metrics/shards/{variant}/{scenario}/{shard}.{kind}"


METRICS_TABLES = {
    f"{table}_{kind}": f"results/metrics/{table}.{kind}"
    for table in ("images", "faces", "variants")
    for kind in ("parquet", "csv")
}


def figure_panel_ids():
    panels = config["figures"]["panels"]
    if isinstance(panels, int):
        return sorted(IMAGES)[:panels]
    unknown = [image_id for image_id in panels if image_id not in IMAGES]
    if unknown:
        raise WorkflowError(f"config key figures.panels: no image with id '{unknown[0]}'")
    return panels


def panel_files(wildcards):
    """The per-image files a figure panel shows (the base variant's)."""
    patterns = {
        "detect_json": DETECT_OUTPUTS["json"],
        "persons_json": PERSONS_OUTPUT,
        "caption_json": CAPTION_OUTPUTS["json"],
        "caption_npz": CAPTION_OUTPUTS["npz"],
        "language_json": LANGUAGE_OUTPUT,
        "scene_json": SCENE_OUTPUTS["json"],
        "scene_npz": SCENE_OUTPUTS["npz"],
        "masks_npz": MASKS_OUTPUTS["npz"],
        "scenario1_png": final_output("scenario1", "png"),
        "scenario2_png": final_output("scenario2", "png"),
    }
    return {key: pattern.format(image_id=wildcards.image_id) for key, pattern in patterns.items()}


def panel_indexes(wildcards):
    """The base variant's shard jobs that write the files of the panel's image."""
    shard = SHARD_OF[wildcards.image_id]
    models = [index for stage in (*SCENE_MODELS, "fakes") for index in model_indexes(stage, [shard])(wildcards)]
    renders = [shard_index(f"render_{scenario}", shard, BASE_VARIANT) for scenario in ("scenario1", "scenario2")]
    return [*models, shard_index("persons", shard), shard_index("masks", shard), *renders]


SWEEP_FIGURE = "results/figures/sweep/privacy_utility.{ext}"


def figure_outputs():
    panels = expand("results/figures/panels/{image_id}.{ext}", image_id=figure_panel_ids(), ext=("png", "pdf"))
    return [*panels, *expand(SWEEP_FIGURE, ext=("png", "pdf"))]


# ---------------------------------------------------------------- sweep variants

# Variant -> the variant whose stage outputs it reuses (equal settings share files).
STAGE_GROUPS = {
    "persons": sweeps.share_groups({v: persons_params(c) for v, c in VARIANTS.items()}, BASE_VARIANT),
    "faces": sweeps.share_groups(
        {v: [persons_params(c), faces_params(c)] for v, c in VARIANTS.items()}, BASE_VARIANT
    ),
    "fakes": sweeps.share_groups(
        {v: [persons_params(c), faces_params(c), fakes_params(c)] for v, c in VARIANTS.items()}, BASE_VARIANT
    ),
    "masks": sweeps.share_groups({v: masks_params(c) for v, c in VARIANTS.items()}, BASE_VARIANT),
}
RULE_SAFE = {name: re.sub(r"\W", "_", name) for name in VARIANTS}
if len(set(RULE_SAFE.values())) < len(RULE_SAFE):
    raise WorkflowError("config key sweep: variant names must differ in more than '.' and '-'")


def stage_groups(stage):
    """The variants that own outputs of a variant-dependent stage, base first."""
    return list(dict.fromkeys(STAGE_GROUPS[stage].values()))


def scoped(pattern, group):
    """Output pattern of a settings group: the base's own path, others under results/variants/<group>/."""
    if group == BASE_VARIANT:
        return pattern
    return pattern.replace("results/", f"results/variants/{group}/", 1)


def rule_name(stage, job, variant=BASE_VARIANT):
    """Name of a stage's job over one shard or a model job's shards ("0003-0040")."""
    job = job.replace("-", "_")
    if variant == BASE_VARIANT:
        return f"{stage}_{job}"
    return f"{stage}_{RULE_SAFE[variant]}_{job}"


def final_output(scenario, kind, variant=BASE_VARIANT):
    """Pattern of a final output of a variant: png or decisions."""
    suffix = {"png": "png", "decisions": "decisions.json"}[kind]
    return f"results/final/{variant}/{scenario}/{{image_id}}.{suffix}"


def protected_outputs():
    """The indexes of the shard jobs that write every variant's protected photos, and the
    per-image files missing from finished shards (asked for, so they are made again)."""
    indexes = [
        shard_index(f"render_{scenario}", shard, variant)
        for variant in VARIANTS
        for scenario in ("scenario1", "scenario2")
        for shard in SHARDS
    ]
    return [*indexes, "results/summary/rejected.tsv", *MISSING_FILES]


def get_final_outputs():
    return [*protected_outputs(), *METRICS_TABLES.values(), *figure_outputs()]
