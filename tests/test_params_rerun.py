"""Every config key a job depends on is in its params: changing one reruns exactly the stages that use it.

One small project (three photos shrunk to 160 px, two shards) runs the whole workflow once on the
offline profile (tiny random models). Then, for each config change of the table, Snakemake, asked
without running anything (`--summary`), must find changed params in exactly the expected stages and
plan to rerun those stages and what follows them, nothing else. The expected sets say what each stage's
script reads (scripts read only snakemake.input, output, params, log and threads; stage_params builds
the params): a config key a script depends on but its params lack shows up as a stage missing from
its set, a key in params that the stage does not use as an extra one.
"""

import re
import shutil

import pytest
import yaml
from PIL import Image

from conftest import MAX_PIXELS, REPO, planned_jobs, run_snakemake, small_config

pytestmark = pytest.mark.workflow

PHOTOS = ("astronaut.jpg", "grace_hopper.jpg", "three_portraits.jpg")
EVALUATE = {"evaluate_scenario1", "evaluate_scenario2"}
# Stages that run a model with the default (offline, tiny) settings: fakes with fakes.generator
# diffusion, not language (spaCy with language.method dependency) nor train_scene (no scene.train_images).
MODEL_STAGES = {"detect", "caption", "scene", "fakes", *EVALUATE}


def base_config(workdir):
    """The test settings (.test/config) with two shards and a smaller DETR input, for speed."""
    config = small_config(workdir / "photos")
    config["execution"]["shards"] = 2
    config["detect"]["short_side"] = 256
    return config


def spacy_model_in_use():
    from photoprivacy.language.spacy_model import resolve_model

    return resolve_model("auto")["name"]


# (dotted config key, new value, stages whose params change). A callable value is called at test time.
CHANGES = [
    ("detect.threshold", 0.5, {"detect", *EVALUATE}),  # evaluate re-detects persons with the same settings
    ("detect.short_side", 224, {"detect", *EVALUATE}),
    ("detect.max_side", 400, {"detect", *EVALUATE}),
    ("caption.max_new_tokens", 12, {"caption", *EVALUATE}),  # evaluate captions protected photos
    ("caption.num_beams", 2, {"caption", *EVALUATE}),
    ("caption.layers", [0], {"caption"}),
    ("language.spacy_model", spacy_model_in_use, set()),  # what `auto` resolves to: the same model
    ("language.bert.threshold", 0.2, set()),  # language.method dependency: BERT settings unused
    ("relations.containment", 0.7, {"relations"}),
    ("scene.top_k", 3, {"scene"}),
    ("scene.relevance", "transformer_attribution", {"scene"}),
    ("scene.preprocessing", "original", {"scene"}),
    ("scene.train_steps", 10, set()),  # no scene.train_images: no fine-tuning
    ("masks.object_predicates", ["nearest"], {"masks"}),
    ("masks.word_threshold", 0.3, {"masks"}),
    ("masks.word_upsampling", "pyramid", {"masks"}),
    ("masks.scene_threshold", 0.3, {"masks"}),
    ("persons.rule", "notebook", {"persons"}),
    ("persons.attention_scaling", "column", {"persons"}),
    ("persons.attention_cutoff", 0.3, {"persons"}),
    ("persons.weights.distance", 0.5, {"persons"}),
    ("faces.threshold", 0.3, {"faces"}),
    ("faces.max_side", 640, {"faces"}),
    ("faces.haar_growth", 20, set()),  # faces.detector centerface
    ("fakes.steps", 3, {"fakes"}),
    ("fakes.donor_folder", "donors", set()),  # fakes.generator diffusion
    ("render.scenario1.method", "blur", {"render_scenario1"}),
    ("render.scenario1.mosaic_half_sizes", [3, 6], {"render_scenario1"}),
    # Only the chosen method's strength keys are params: random_mosaic reads no block size or blur sigma.
    ("render.scenario1.block_size", 5, set()),
    ("render.scenario1.blur_sigma", 9.0, set()),
    ("render.scenario1.components", ["persons", "objects"], {"render_scenario1", "evaluate_scenario1"}),
    ("render.scenario1.clean_kernel", 3, {"render_scenario1", "evaluate_scenario1"}),
    ("render.minor.block_size", 5, {"render_scenario2"}),
    ("render.minor.blur_sigma", 9.0, set()),  # render.minor.method mosaic: no blur
    ("render.face.fallback_block_size", 5, set()),  # a generator gives faces: no fallback pixelation
    ("render.face.blend", "hard", {"render_scenario2"}),
    ("render.face.feather", 0.3, {"render_scenario2"}),
    ("render.strength.mode", "original", {"render_scenario1", "render_scenario2"}),
    ("evaluate.iou", 0.3, EVALUATE),
    ("evaluate.face_threshold", 0.3, EVALUATE),
    ("seed", 1, {"fakes", "render_scenario1", "render_scenario2"}),
    ("models.offline_seed", 1, {*MODEL_STAGES, "build_offline_model"}),
    ("models.verify", "full", set()),  # how a model folder is checked, not what a job writes
    ("resources.detect.mem_mb", 4000, set()),  # resources are no params
    ("resources.detect.threads", 1, set()),
    ("execution.model_jobs", 2, set()),  # batches never mix shards: grouping changes no output
    # Padding to a batch's largest image changes DETR's (and the captioner's, the scene classifier's,
    # the face generator's) numbers slightly; evaluate re-detects and recaptions in batches.
    ("execution.batch_size", 3, MODEL_STAGES),
    ("execution.device", "cpu", MODEL_STAGES),  # the default is auto (which is cpu on a machine without GPU)
    ("execution.half_precision", True, {"detect", "fakes", *EVALUATE}),
    ("execution.max_image_pixels", MAX_PIXELS // 2,  # every job that opens the photos
     {"detect", "caption", "scene", "faces", "render_scenario1", "render_scenario2", *EVALUATE, "figure_panel"}),
]

# Stage -> the stages and other rules that take its outputs (what a dry run plans after it).
FOLLOWERS = {
    "detect": {"persons", "relations", "masks", *EVALUATE, "summarize_rejected", "figure_panel"},
    "caption": {"language", "masks", *EVALUATE, "figure_panel"},
    "language": {"relations", "masks", *EVALUATE, "figure_panel"},
    "relations": {"masks"},
    "scene": {"masks", "figure_panel"},
    "masks": {"render_scenario1", "evaluate_scenario1", "figure_panel"},
    "persons": {"faces", "render_scenario1", "render_scenario2", "figure_panel"},  # scenario 1: sizes per face
    "faces": {"fakes", "render_scenario1", "render_scenario2"},
    "fakes": {"render_scenario2"},
    "render_scenario1": {"evaluate_scenario1", "figure_panel"},
    "render_scenario2": {"evaluate_scenario2", "figure_panel"},
    "evaluate_scenario1": {"metrics"},
    "evaluate_scenario2": {"metrics"},
    "metrics": {"figure_sweep"},
    "build_offline_model": MODEL_STAGES,  # the model folders' manifests are inputs of the stages
}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A finished run of the whole workflow on three photos shrunk to 160 px."""
    workdir = tmp_path_factory.mktemp("params_rerun")
    (workdir / "photos").mkdir()
    for name in PHOTOS:
        with Image.open(REPO / "data" / "photos" / name) as photo:
            photo.thumbnail((160, 160))
            photo.save(workdir / "photos" / name)
    (workdir / "config.yaml").write_text(yaml.safe_dump(base_config(workdir)))
    run_snakemake(workdir)
    shutil.copy(workdir / "config.yaml", workdir / "unchanged.yaml")
    return workdir


def write_changed_config(workdir, key, value):
    """The base config with ``key`` (dotted) set to ``value``, as <key>.yaml in ``workdir``."""
    config = base_config(workdir)
    *parents, last = key.split(".")
    section = config
    for parent in parents:
        section = section[parent]
    assert last in section, f"no config key {key}"
    section[last] = value() if callable(value) else value
    name = f"{key}.yaml"
    (workdir / name).write_text(yaml.safe_dump(config))
    return name


def summary(workdir, configfile):
    """(rule families whose params changed, rule families that would run) with ``configfile``.

    From `snakemake --summary`, which plans without running: per output file its rule, its status
    ("params changed" when its recorded params differ) and its plan ("update pending" when its job
    would run, for changed params or because a job it takes outputs from would). Params are the only
    rerun trigger, so that script edits elsewhere in the checkout (the code trigger) do not count.
    (`--list-changes params` would list the changed outputs, but Snakemake 9.27 lists every output
    with recorded params there, changed or not: ParamsChange.__or__ keeps the files of an empty
    change. A dry run's job reasons name changed params only in jobs that nothing before them reruns.)
    """
    def rows(*args):
        out = run_snakemake(workdir, "--summary", "--rerun-triggers", "params", "--configfile", configfile,
                            *args).stdout
        found = [line.split("\t") for line in out.splitlines() if line.count("\t") == 5]
        assert found and found[0] == ["output_file", "date", "rule", "log-file(s)", "status", "plan"], out
        return [(re.sub(r"(_\d+)+$", "", rule), status, plan) for _, _, rule, _, status, plan in found[1:]]

    # Jobs after a model job that is to run take its outputs through its checkpoint, unknown until it
    # ran: their status says "set of input files changed". With no job allowed to run, every input is known.
    changed = {rule for rule, status, _ in rows("--allowed-rules", "all") if status == "params changed"}
    pending = {rule for rule, _, plan in rows() if plan == "update pending"}
    return changed, pending


def with_followers(stages):
    """``stages`` and every rule that (transitively) takes their outputs."""
    found, pending = set(), list(stages)
    while pending:
        stage = pending.pop()
        if stage not in found:
            found.add(stage)
            pending.extend(FOLLOWERS.get(stage, ()))
    return found


@pytest.fixture(scope="module")
def summaries(project):
    """Config key -> summary with that key changed, each made once for both tests below."""
    made = {}

    def summary_of(key):
        if key not in made:
            _, value, _ = next(change for change in CHANGES if change[0] == key)
            made[key] = summary(project, write_changed_config(project, key, value))
        return made[key]

    return summary_of


def test_unchanged_config_changes_no_params_and_reruns_nothing(project):
    assert summary(project, "unchanged.yaml") == (set(), set())
    assert planned_jobs(project, "--rerun-triggers", "params", "--configfile", "unchanged.yaml") == {}


@pytest.mark.parametrize(("key", "expected"), [(key, stages) for key, _, stages in CHANGES],
                         ids=[key for key, _, _ in CHANGES])
def test_a_changed_key_changes_the_params_of_exactly_its_stages(summaries, key, expected):
    changed, _ = summaries(key)
    assert changed == expected


@pytest.mark.parametrize(("key", "expected"), [(key, stages) for key, _, stages in CHANGES],
                         ids=[key for key, _, _ in CHANGES])
def test_a_changed_key_reruns_its_stages_and_what_follows(summaries, key, expected):
    _, pending = summaries(key)
    assert pending == with_followers(expected)


@pytest.mark.parametrize("key", ["detect.threshold", "execution.device"])
def test_a_dry_run_plans_what_the_summary_says(project, summaries, key):
    _, pending = summaries(key)
    jobs = planned_jobs(project, "--rerun-triggers", "params", "--configfile", f"{key}.yaml")
    assert {re.sub(r"(_\d+)+$", "", rule) for rule in jobs} == pending | {"all"}
