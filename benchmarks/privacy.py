"""Privacy at the default and at the original strengths, per photo, method and scenario.

    .venv/bin/python benchmarks/privacy.py [--keep]

Runs the workflow (offline profile, hand-written person boxes through the
annotations detector) on the shared photos at 1x, 2x and 3x, with one sweep
variant per method at the default (relative) strength and at the original
fixed sizes, and prints from results/metrics/images.csv, per photo, variant and
scenario: CenterFace faces in the obfuscated region and how many are found
again, faces checked by dlib's recogniser and how many keep their identity.
Scenario 1's `noise` is measured too (scenario 2 has no noise method).
"""

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml
from common import REPO, snakemake

sys.path.insert(0, str(REPO / "tests"))
from test_privacy_workflow import scaled_photos_and_boxes  # noqa: E402  (one definition of the test set)

ORIGINAL = {"render": {"strength": {"mode": "original"}}}
METHODS = {
    "mosaic": {},  # the defaults: scenario 1 random mosaic, scenario 2 mosaic of minor persons
    "pixelate": {"render": {"scenario1": {"method": "pixelate"}, "minor": {"method": "pixelate"}}},
    "blur": {"render": {"scenario1": {"method": "blur"}, "minor": {"method": "blur"}}},
    "noise": {"render": {"scenario1": {"method": "noise"}}},
}


def merged(a, b):
    out = dict(a)
    for key, value in b.items():
        out[key] = merged(out.get(key, {}), value) if isinstance(value, dict) else value
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the scratch project")
    args = parser.parse_args()
    import json

    workdir = Path(tempfile.mkdtemp(prefix="photoprivacy-privacy-"))
    (workdir / "photos").mkdir()
    (workdir / "persons.json").write_text(json.dumps(scaled_photos_and_boxes(workdir / "photos")))
    variants = {}
    for method, overrides in METHODS.items():
        if method != "mosaic":
            variants[method] = overrides
        variants[f"{method}_original"] = merged(overrides, ORIGINAL)
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["input"]["images"] = str(workdir / "photos")
    config["execution"].update(shards=2, batch_size=2)
    config["detect"].update(method="annotations", annotations=str(workdir / "persons.json"))
    config["fakes"]["steps"] = 5
    config["evaluate"].update(recaption=False)
    config["figures"]["panels"] = 0
    config["variant"] = "mosaic"
    config["sweep"]["variants"] = variants
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    began = time.perf_counter()
    snakemake(workdir, "--configfile", str(workdir / "config.yaml"), log=workdir / "run.log")
    rows = pd.read_csv(workdir / "results" / "metrics" / "images.csv")
    print(f"workflow: {time.perf_counter() - began:.0f} s; {workdir}")
    rows = rows[~((rows["scenario"] == "scenario2") & rows["variant"].str.startswith("noise"))]
    columns = ["faces_original", "faces_redetected", "faces_checked", "identity_kept", "identity_min_distance"]
    table = rows.set_index(["image_id", "variant", "scenario"])[columns].sort_index()
    with pd.option_context("display.max_rows", None, "display.width", 200):
        print(table.to_string(float_format=lambda v: f"{v:.2f}"))
        print(rows.groupby(["variant", "scenario"])[columns[:-1]].sum().to_string())
    if not args.keep:
        shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
