"""The README's "Adding a model or a method" diff, applied to a copy of the library, adds a
person obfuscation method that the workflow runs with no .smk file touched: config key
render.minor.method names it, its own params reach the render stage, and every minor
person's pixels come out as the mean colour of its zone."""

import os
import re
import shutil
import subprocess

import numpy as np
import pytest
import yaml

from photoprivacy.artifacts import read_json
from photoprivacy.images import load_rgb

from conftest import MAX_PIXELS, REPO, SHARED_PHOTOS, default_config, run_snakemake

pytestmark = pytest.mark.workflow

BOXES = REPO / "tests" / "data" / "shared_persons.json"


def readme_diff():
    """The first diff block of the README's section on adding a method."""
    section = (REPO / "README.md").read_text().split("### Adding a model or a method", 1)[1]
    return re.search(r"```diff\n(.*?)```", section, re.S).group(1)


def library_with_the_diff(folder):
    """A copy of src/ with the README's diff applied (``git apply``, which refuses a diff that
    no longer fits the code)."""
    shutil.copytree(REPO / "src", folder / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    subprocess.run(["git", "apply", "--verbose", "-"], input=readme_diff(), text=True, cwd=folder, check=True,
                   capture_output=True)
    return folder / "src"


def overlapping(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    if not SHARED_PHOTOS.is_dir():
        pytest.skip(f"no shared photos in {SHARED_PHOTOS}")
    workdir = tmp_path_factory.mktemp("toy_method")
    source = library_with_the_diff(workdir)
    config = default_config()
    config["input"].update(images=str(SHARED_PHOTOS), extensions=["jpg", "png"])
    config["execution"]["shards"] = 1
    config["detect"].update(method="annotations", annotations=str(BOXES))
    config["fakes"]["generator"] = "none"
    config["render"]["minor"]["method"] = "solid"
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    env = dict(os.environ, PYTHONPATH=str(source), HF_HUB_OFFLINE="1")  # the copy comes before the installed one
    run_snakemake(workdir, "results/shards/render_scenario2/default/0000.tsv", "--configfile", "config.yaml", env=env)
    return workdir


def test_the_diff_is_about_twenty_lines_in_one_file():
    diff = readme_diff()
    assert re.findall(r"^\+\+\+ b/(\S+)", diff, re.M) == ["src/photoprivacy/render/methods.py"]
    assert 12 <= len(re.findall(r"^\+(?!\+\+)", diff, re.M)) <= 25


def test_the_workflow_runs_the_added_method(toy_run):
    hidden = 0
    for photo in sorted(SHARED_PHOTOS.glob("*.[jp][pn]g")):
        image_id = photo.stem
        decisions = read_json(toy_run / "results" / "final" / "default" / "scenario2" / f"{image_id}.decisions.json")
        minors = [r for r in decisions["regions"] if r["kind"] == "person" and r["method"]]
        assert {r["method"] for r in minors} <= {"solid"}
        assert all(r["parameters"]["fill"] == "mean" for r in minors)
        original = load_rgb(photo, MAX_PIXELS)
        protected = load_rgb(toy_run / "results" / "final" / "default" / "scenario2" / f"{image_id}.png", MAX_PIXELS)
        zones = [z for z in decisions["strength_zones"] if z["method"] == "solid"]
        others = [z["box_xyxy"] for z in decisions["strength_zones"]] + [r["region"] for r in decisions["regions"]
                                                                     if r["kind"] == "face" and r["region"]]
        for zone in zones:
            x0, y0, x1, y1 = zone["box_xyxy"]
            if any(overlapping(zone["box_xyxy"], box) for box in others if box != zone["box_xyxy"]):
                continue  # a neighbour's pixels (or a face) may lie in its window
            colour = original[y0:y1, x0:x1].mean(axis=(0, 1)).round()
            changed = (protected[y0:y1, x0:x1] != original[y0:y1, x0:x1]).any(axis=2)
            assert changed.any()
            np.testing.assert_array_equal(protected[y0:y1, x0:x1][changed], np.broadcast_to(colour, (changed.sum(), 3)))
            hidden += 1
    assert hidden >= 1
