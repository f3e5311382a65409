# Shared vocabulary of the workflow: config validation, the image and shard
# tables, shard indexes, model jobs, model folders and sweep variants. Helpers
# only, no rules. Each stage's output patterns sit in its own .smk file, what
# its params hold in photoprivacy.stage_params, the target lists in targets.smk.
import functools
import os
import re
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from photoprivacy import samples, stage_params, sweeps
from photoprivacy.caption.captioners import CAPTIONERS
from photoprivacy.detection.detectors import OBJECT_DETECTORS
from photoprivacy.errors import ConfigError, ModelNotAvailable
from photoprivacy.faces.detectors import FACE_DETECTORS
from photoprivacy.faces.generators import FACE_GENERATORS
from photoprivacy.language.methods import LANGUAGE_METHODS
from photoprivacy.models.families import MODEL_FAMILIES
from photoprivacy.models.store import MANIFEST, VERIFY_ENV, listed_files
from photoprivacy.render.methods import MASK_METHODS, REGION_METHODS
from photoprivacy.scene.methods import RELEVANCE_METHODS
from photoprivacy.stages import STAGE_VERSIONS
from photoprivacy.video import intake


# ---------------------------------------------------------------- config
CONFIG_SCHEMA = "../schemas/config.schema.yaml"
validate(config, CONFIG_SCHEMA)


# The plug-ins a config chooses, by the registry of each choice; sweep variants may choose
# their own of the last four.
RUN_CHOICES = (OBJECT_DETECTORS, CAPTIONERS, LANGUAGE_METHODS, RELEVANCE_METHODS)
VARIANT_CHOICES = (FACE_DETECTORS, FACE_GENERATORS, MASK_METHODS, REGION_METHODS)


def check_config(cfg, where="", registries=RUN_CHOICES + VARIANT_CHOICES):
    """Rules between keys that the schema cannot say; ``where`` names a sweep variant. A choice
    must be a registered name, with the keys it requires set (photoprivacy.registry), and
    spaCy's model must be found (language.spacy_model)."""
    for registry in registries:
        try:
            registry.chosen(cfg, where)
            registry.settings(cfg)
        except (ValueError, ModelNotAvailable) as error:
            raise WorkflowError(str(error)) from None
    if cfg["scene"]["train_images"] and not Path(cfg["scene"]["train_images"]).is_dir():
        raise WorkflowError(
            f"config key scene.train_images: folder '{cfg['scene']['train_images']}' does not exist"
        )


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
        check_config(_cfg, f"sweep.variants.{_name}.", VARIANT_CHOICES)


# ---------------------------------------------------------------- images, videos and shards
try:
    INPUTS = samples.collect_images(config["input"])
except ConfigError as error:
    raise WorkflowError(str(error)) from None

# Videos (input.video_extensions) are read once at planning (photoprivacy.video.intake): their
# intake records say how many frames they have; a video that cannot be decoded is rejected there.
VIDEO_SUFFIXES = {f".{extension.lower()}" for extension in config["input"]["video_extensions"]}
VIDEO_FILES = {key: path for key, path in INPUTS.items() if Path(path).suffix.lower() in VIDEO_SUFFIXES}
PHOTOS = {key: path for key, path in INPUTS.items() if key not in VIDEO_FILES}


def video_record_path(video_id):
    return f"results/videos/{video_id}.json"


VIDEO_RECORDS = {
    video_id: intake.intake_record(video_id, path, video_record_path(video_id), config["execution"]["max_image_pixels"])
    for video_id, path in VIDEO_FILES.items()
}
VIDEOS = [video_id for video_id, record in VIDEO_RECORDS.items() if record["status"] == "ok"]
VIDEO_STEP = {video_id: intake.frame_step(VIDEO_RECORDS[video_id], config["video"]["fps"]) for video_id in VIDEOS}
FRAMES = {video_id: intake.frame_ids(video_id, VIDEO_RECORDS[video_id], VIDEO_STEP[video_id]) for video_id in VIDEOS}
FRAME_FOLDER = "results/frames/{video_id}"
VIDEO_OF = {frame: video_id for video_id, frames in FRAMES.items() for frame in frames}
_taken = sorted(set(VIDEO_OF) & set(PHOTOS))
if _taken:
    raise WorkflowError(f"config key input: photo '{PHOTOS[_taken[0]]}' has the image id of a video frame, '{_taken[0]}'")
IMAGES = {**PHOTOS, **{frame: f"{FRAME_FOLDER.format(video_id=VIDEO_OF[frame])}/{frame}.png" for frame in VIDEO_OF}}

# Shards: photos hashed into execution.shards buckets; each video's frames in shards of their own,
# keyframes (those scenario 1's models run on) apart (intake.video_shards). Stages run over one of
# three sets of shards: every frame (detect, persons, faces), photos and keyframes (scenario 1's
# models and masks), photos only (fakes, rendering, evaluation: videos have their own, rules/video.smk).
PHOTO_SHARDS = samples.assign_shards(PHOTOS, config["execution"]["shards"])
VIDEO_SHARDS = {
    video_id: intake.video_shards(
        video_id, FRAMES[video_id], config["video"]["scenario1_every"], config["video"]["frames_per_shard"]
    )
    for video_id in VIDEOS
}
SHARDS = {**PHOTO_SHARDS, **{shard: ids for shards in VIDEO_SHARDS.values() for shard, ids in shards.items()}}
for _names, _what in ((SHARDS, "shard"), (VIDEOS, "video")):
    _safe = {}
    for _name in _names:
        _key = re.sub(r"\W", "_", _name)
        if _key in _safe:
            raise WorkflowError(
                f"config key input: {_what}s '{_safe[_key]}' and '{_name}' differ only in '.' and '-' "
                "(both become '_' in job names): rename one of the videos"
            )
        _safe[_key] = _name
SHARD_SETS = {
    "all": SHARDS,
    "scene": {
        **PHOTO_SHARDS,
        **{shard: ids for video_id, shards in VIDEO_SHARDS.items() for shard, ids in shards.items()
           if intake.is_keyframe_shard(video_id, shard)},
    },
    "photos": PHOTO_SHARDS,
}
STAGE_SHARDS = {
    **dict.fromkeys(("caption", "language", "relations", "scene", "masks"), "scene"),
    **dict.fromkeys(("fakes", "render_scenario1", "render_scenario2", "evaluate"), "photos"),
}


def stage_shards(stage):
    """The shards a stage runs over (name -> image ids)."""
    return SHARD_SETS[STAGE_SHARDS.get(stage, "all")]


# A model stage runs execution.model_jobs jobs, each over a run of its shards (photoprivacy.model_jobs):
# every job pays imports, device start-up and the model load before its first image.
MODEL_JOBS_OF_SET = {name: samples.group_shards(shards, config["execution"]["model_jobs"]) for name, shards in SHARD_SETS.items()}


def model_jobs(stage):
    """Job name -> its run of shards, for a model stage."""
    return MODEL_JOBS_OF_SET[STAGE_SHARDS.get(stage, "all")]


MODELS_DIR = config["models"]["dir"]


wildcard_constraints:
    image_id=samples.ID_PATTERN,
    family="[a-z0-9_]+",
    size="tiny|full",


def image_relpaths():
    """Path of each image as the user knows it (relative to the input folder when there is one)."""
    if config["input"]["sample_sheet"]:
        known = {key: Path(path).as_posix() for key, path in INPUTS.items()}
    else:
        folder = str(Path(config["input"]["images"])) + os.sep  # images were found below it
        known = {key: str(path).removeprefix(folder) for key, path in INPUTS.items()}
    frames = {frame: intake.frame_relpath(known[VIDEO_OF[frame]], frame) for frame in VIDEO_OF}
    return {**{key: known[key] for key in PHOTOS}, **frames}


# The intake index of each shard lists these (rule images_<shard>); a frame's relpath is its
# video's, with the frame's number after '#'.
IMAGE_ITEMS = {
    image_id: {"id": image_id, "path": str(IMAGES[image_id]), "relpath": relpath}
    for image_id, relpath in image_relpaths().items()
}


def shard_image_inputs(shard):
    """What a shard's intake job reads: its photos, or the frame folder of its video."""
    paths = {IMAGE_ITEMS[image_id]["path"] for image_id in SHARDS[shard] if image_id not in VIDEO_OF}
    folders = {FRAME_FOLDER.format(video_id=VIDEO_OF[image_id]) for image_id in SHARDS[shard] if image_id in VIDEO_OF}
    return sorted(paths | folders)


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


# ---------------------------------------------------------------- model jobs
# A model stage's job covers a run of its shards (model_jobs) and writes each shard's index.
MODEL_JOB_OF = {
    name: {shard: job for job, shards in jobs.items() for shard in shards} for name, jobs in MODEL_JOBS_OF_SET.items()
}


def model_indexes(stage, shards, group=None):
    """Input function: the indexes of ``shards`` written by a model stage's jobs (of a variant's
    settings ``group``). Those jobs are checkpoints and their indexes are asked for through
    checkpoints.<job>.get(), so Snakemake plans what follows again once they ran: a shard whose
    index came back unchanged (it reused its record, photoprivacy.model_jobs) reruns nothing
    after it, as when each shard had its own job."""
    group = group or BASE_VARIANT

    job_of = MODEL_JOB_OF[STAGE_SHARDS.get(stage, "all")]

    def indexes(wildcards):
        for job in dict.fromkeys(job_of[shard] for shard in shards):
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
    for stage in SCENE_MODELS:
        after_model_jobs([stage], list(stage_shards(stage)))(wildcards)
    for group in stage_groups("fakes"):
        after_model_jobs(["fakes"], list(stage_shards("fakes")), group)(wildcards)
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


def job_resources(stage, on_device=True):
    """Resources of a model stage's jobs (resources.<stage>), to unpack into the rule's: a GPU
    and the stage's SLURM partition only ``on_device`` (a plug-in that runs on the device this
    time), else the profile's default partition. A resource may not be None, hence no key
    rather than a null partition. Resources are no params: changing them reruns nothing."""
    settings = config["resources"][stage]
    resources = {"mem_mb": settings["mem_mb"], "runtime": settings["runtime"], "gpu": settings["gpu"] if on_device else 0}
    if settings.get("slurm_partition") and on_device:
        resources["slurm_partition"] = settings["slurm_partition"]
    return resources


# ---------------------------------------------------------------- model folders
# A stage's model input is its model folder's manifest (model_manifest); the folders
# are made by rules/models.smk. What a stage's params hold of its model and plug-in:
# photoprivacy.stage_params.


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


MODEL_FOLDER = f"{MODELS_DIR}/offline/{{family}}-{{size}}" if config["offline"] else f"{MODELS_DIR}/hub/{{family}}"
# Families whose folder lacks a file its manifest lists: their restore_model_<family> rule makes it again.
RESTORED_FAMILIES = [family for family in MODEL_FAMILIES.names if missing_model_files(model_dir(family))]


def model_folder_outputs(family=None):
    """Outputs of the rule making every model folder (``family`` None), or of the family's
    restore_model_<family> rule, in rules/models.smk. Those are the manifest and then the
    files it lists that are missing from the family's folder."""
    manifest = f"{MODEL_FOLDER}/{MANIFEST}"
    if family is None:
        return {"manifest": manifest}
    missing = missing_model_files(model_dir(family))
    return {"manifest": update(manifest), "restored": [f"{MODEL_FOLDER}/{name}" for name in missing]}


def model_folder_constraints(family=None):
    """Wildcard constraints of those rules: the family's folder for its restore rule, every
    other folder for the rule that makes them."""
    if family is not None:
        size = {"size": re.escape(config["models"]["offline_size"])} if config["offline"] else {}
        return {"family": re.escape(family), **size}
    if not RESTORED_FAMILIES:
        return {}
    # any family name but those restored (each followed by a character no family name has)
    return {"family": f"(?!(?:{'|'.join(map(re.escape, RESTORED_FAMILIES))})(?![a-z0-9_]))[a-z0-9_]+"}


def plugin_model(registry, cfg=config):
    """The model input of the chosen implementation, as a list: its model folder's manifest
    (none for an implementation without a model)."""
    entry = registry.chosen(cfg)
    return [model_manifest(entry.model)] if entry.model else []


def on_device(registry, cfg=config):
    """Whether the chosen implementation runs on the device (its jobs then ask for a GPU)."""
    return registry.chosen(cfg).device


# ---------------------------------------------------------------- sweep variants

# Stage -> (variant -> the variant whose outputs it reuses): equal settings share files.
# Each variant-dependent stage's .smk file adds its own (share_stage).
STAGE_GROUPS = {}
RULE_SAFE = {name: re.sub(r"\W", "_", name) for name in VARIANTS}
if len(set(RULE_SAFE.values())) < len(RULE_SAFE):
    raise WorkflowError("config key sweep: variant names must differ in more than '.' and '-'")


def share_stage(stage, settings):
    """Group the variants by ``settings(cfg)`` of ``stage`` (its params and those of the stages
    it reads): STAGE_GROUPS[stage]."""
    STAGE_GROUPS[stage] = sweeps.share_groups({v: settings(c) for v, c in VARIANTS.items()}, BASE_VARIANT)


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
    job = re.sub(r"\W", "_", job)
    if variant == BASE_VARIANT:
        return f"{stage}_{job}"
    return f"{stage}_{RULE_SAFE[variant]}_{job}"


def final_output(scenario, kind, variant=BASE_VARIANT):
    """Pattern of a final output of a variant: png or decisions."""
    suffix = {"png": "png", "decisions": "decisions.json"}[kind]
    return f"results/final/{variant}/{scenario}/{{image_id}}.{suffix}"
