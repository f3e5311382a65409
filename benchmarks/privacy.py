"""Privacy against what it costs: the strength sweep, and the defaults against the original sizes, per photo.

    .venv/bin/python benchmarks/privacy.py [--keep] [--out FOLDER]
    .venv/bin/python benchmarks/privacy.py --face-per-person

Runs the workflow (offline profile, hand-written person boxes through the
annotations detector, so the result does not depend on random DETR weights) on
the shared photos at 1x, 2x and 3x with the shipped strength sweep
(sweeps/strength.tsv: mosaic, pixelate and blur at 2 to 12 blocks or sigmas
across each face) and each method at the original fixed sizes, then prints from
results/metrics/:

- per variant and scenario: faces in protected regions, the median and least
  blocks across an obfuscated face, rank-1 re-identification against the
  flat-erase control (checked faces), CenterFace faces found again, SSIM outside;
- per photo and scenario, at the defaults and at `strength.mode: original`.

``--out`` copies the metric tables there (the privacy-versus-utility figure too).

``--face-per-person`` measures render.strength.face_per_person instead, on the
same photos and boxes without the workflow: for every person box, CenterFace
runs inside the box as the faces stage does, and the person's own face (the
widest centred in its head region, render/zones.py) gives face width / the box's
shorter side. It prints the ratio's median and spread over all persons and over
standing ones (box at least twice as tall as wide).
"""

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from common import REPO, snakemake

sys.path.insert(0, str(REPO / "tests"))
from test_privacy_workflow import scaled_photos_and_boxes  # noqa: E402  (one definition of the test set)

ORIGINAL = {"strength": {"mode": "original"}}
METHODS = {  # the defaults are the base variant: scenario 1 random mosaic, scenario 2 mosaic of minor persons
    "pixelate": {"scenario1": {"method": "pixelate"}, "minor": {"method": "pixelate"}},
    "blur": {"scenario1": {"method": "blur"}, "minor": {"method": "blur"}},
}


def original_variants():
    """Each method at the original's fixed sizes."""
    variants = {"mosaic_original": {"render": ORIGINAL}}
    for method, render in METHODS.items():
        variants[f"{method}_original"] = {"render": {**render, **ORIGINAL}}
    return variants


def per_variant(variants, faces):
    """The sweep table: one row per variant and scenario."""
    columns = ["faces_original", "faces_redetected", "faces_checked", "faces_reidentified", "erased_reidentified",
               "blocks_across_median", "blocks_across_min", "ssim_outside"]
    table = variants.set_index(["variant", "scenario"])[columns]
    obfuscated = faces[faces["protection"] == "obfuscated"]
    table.insert(0, "faces_obfuscated", obfuscated.groupby(["variant", "scenario"]).size())
    return table


def per_photo(images, faces, variant):
    """One row per photo and scenario of ``variant``: blocks across its obfuscated faces, re-identified
    and flat-erase re-identified faces, faces found again, SSIM outside."""
    faces, images = faces[faces["variant"] == variant], images[images["variant"] == variant]
    obfuscated = faces[faces["protection"] == "obfuscated"].groupby(["image_id", "scenario"])["blocks_across"]
    checked = faces[faces["checked"].astype(bool)].astype({"reidentified": int, "erased_reidentified": int})
    checked = checked.groupby(["image_id", "scenario"])
    table = pd.DataFrame({
        "faces": faces.groupby(["image_id", "scenario"]).size(),
        "blocks_median": obfuscated.median(),
        "blocks_min": obfuscated.min(),
        "checked": checked.size(),
        "reidentified": checked["reidentified"].sum(),
        "erase_reidentified": checked["erased_reidentified"].sum(),
    })
    rows = images.set_index(["image_id", "scenario"])
    table["redetected"] = rows["faces_redetected"]
    table["ssim_outside"] = rows["ssim_outside"]
    return table.fillna({"faces": 0, "checked": 0, "reidentified": 0, "erase_reidentified": 0}).sort_index()


def face_per_person_ratios(photos, faces_settings):
    """(own face width / the box's shorter side, standing) per person box of the scaled photos written
    into ``photos`` whose own face CenterFace finds inside the box."""
    from photoprivacy.faces.detectors import CenterFaceDetector
    from photoprivacy.images import load_rgb
    from photoprivacy.render.zones import own_face

    coco = scaled_photos_and_boxes(photos)
    detector = CenterFaceDetector(faces_settings["threshold"], faces_settings["max_side"])
    found = []
    for image in coco["images"]:
        rgb = load_rgb(photos / image["file_name"], 10**9)
        height, width = rgb.shape[:2]
        for annotation in (a for a in coco["annotations"] if a["image_id"] == image["id"]):
            x, y, w, h = annotation["bbox"]
            x0, y0 = int(x), int(y)
            faces = [[f[0] + x0, f[1] + y0, f[2] + x0, f[3] + y0]
                     for f, _ in detector(rgb[y0 : int(y + h), x0 : int(x + w)])]
            face = own_face([x, y, x + w, y + h], faces, width, height)
            if face is not None:
                found.append(((face[2] - face[0]) / min(w, h), h >= 2 * w))
    return found


def print_face_per_person(faces_settings):
    with tempfile.TemporaryDirectory(prefix="photoprivacy-faces-") as folder:
        found = face_per_person_ratios(Path(folder), faces_settings)
    for name, values in (("all persons", [r for r, _ in found]), ("standing", [r for r, s in found if s])):
        p10, p25, p50, p75, p90 = np.percentile(values, [10, 25, 50, 75, 90])
        print(f"{name}: {len(values)} faces; face width / shorter side: median {p50:.3f}, "
              f"quartiles {p25:.3f}-{p75:.3f}, 10-90 % {p10:.3f}-{p90:.3f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the scratch project")
    parser.add_argument("--out", type=Path, help="copy the metric tables and the sweep figure here")
    parser.add_argument("--face-per-person", action="store_true",
                        help="only measure the person-box face estimate (render.strength.face_per_person)")
    args = parser.parse_args()
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    if args.face_per_person:
        print_face_per_person(config["faces"])
        return
    workdir = Path(tempfile.mkdtemp(prefix="photoprivacy-privacy-"))
    (workdir / "photos").mkdir()
    (workdir / "persons.json").write_text(json.dumps(scaled_photos_and_boxes(workdir / "photos")))
    config["input"]["images"] = str(workdir / "photos")
    config["execution"].update(shards=2, batch_size=2)
    config["detect"].update(method="annotations", annotations=str(workdir / "persons.json"))
    config["fakes"]["steps"] = 5
    config["evaluate"].update(recaption=False)  # tiny random captioners write gibberish
    config["figures"]["panels"] = 0
    config["sweep"].update(variants=original_variants(), table=str(REPO / "sweeps" / "strength.tsv"))
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    began = time.perf_counter()
    snakemake(workdir, "--configfile", str(workdir / "config.yaml"), log=workdir / "run.log")
    print(f"workflow: {time.perf_counter() - began:.0f} s; {workdir}")
    metrics = workdir / "results" / "metrics"
    images, faces = pd.read_csv(metrics / "images.csv"), pd.read_csv(metrics / "faces.csv")
    variants = pd.read_csv(metrics / "variants.csv")
    with pd.option_context("display.max_rows", None, "display.width", 220):
        print(per_variant(variants, faces).to_string(float_format=lambda v: f"{v:.2f}"))
        for variant in ("default", "mosaic_original"):
            print(f"\n{variant}, per photo")
            print(per_photo(images, faces, variant).to_string(float_format=lambda v: f"{v:.2f}"))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        for path in [*metrics.glob("*.csv"), *(workdir / "results" / "figures" / "sweep").glob("*.png")]:
            shutil.copy(path, args.out / path.name)
    if not args.keep:
        shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
