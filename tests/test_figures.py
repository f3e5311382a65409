"""Figures: per-image panels and the privacy-utility plot, written byte-for-byte reproducibly."""

import io
import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from photoprivacy.artifacts import load_schema, validate_npz, write_json
from photoprivacy.figures.panels import (
    FIGSIZE,
    display_size,
    heat_map,
    load_panel_inputs,
    panel_figure,
    shrink_image,
    shrink_mask,
    write_image_panel,
)
from photoprivacy.figures.save import PNG_DPI
from photoprivacy.figures.sweep import privacy_utility_figure, write_privacy_utility

from conftest import MAX_PIXELS, REPO, SCHEMAS, gradient_image, save_image, schema_validator

WIDTH, HEIGHT = 64, 48
WORDS = ["a", "man", "riding", "a", "bike", "on", "the", "beach"]
PANEL_PIXELS = (FIGSIZE[0] * PNG_DPI, FIGSIZE[1] * PNG_DPI)


def prov(stage):
    return {"stage": stage, "stage_version": 1, "model": None, "packages": {}, "params": {}}


def common(image_id, stage, reason):
    return {"schema_version": 1, "image_id": image_id, "status": "rejected" if reason else "ok", "reason": reason,
            "provenance": prov(stage)}


def detect_record(image_id, reason):
    detections = [] if reason else [
        {"index": 0, "query": None, "label": "person", "label_id": 1, "score": 1.0, "box_xyxy": [4, 6, 24, 44]},
        {"index": 1, "query": None, "label": "person", "label_id": 1, "score": 1.0, "box_xyxy": [36, 10, 70, 47]},
        {"index": 2, "query": None, "label": "bicycle", "label_id": 2, "score": 0.87, "box_xyxy": [20, 30, 40, 48]},
    ]
    return {**common(image_id, "detect", reason), "source": f"{image_id}.png", "detector": "annotations",
            "image": None if reason else {"width": WIDTH, "height": HEIGHT},
            "attention": {"available": False, "grid": None}, "detections": detections}


def persons_record(image_id, reason):
    def person(i, role, final):
        return {"person": i, "detection": i, "box_xyxy": detect_record(image_id, None)["detections"][i]["box_xyxy"],
                "detection_score": 1.0, "attention_score": None, "distance": 10.0 + i, "attention_rank": None,
                "distance_rank": 2 - i, "final_score": final, "role": role}

    scoring = {"rule": "distance_only", "attention_available": False, "note": "no attention", "n_persons": 2,
               "n_majors": 1}
    return {**common(image_id, "persons", reason), "image": None if reason else {"width": WIDTH, "height": HEIGHT},
            "scoring": None if reason else scoring,
            "persons": [] if reason else [person(0, "major", 2.0), person(1, "minor", 1.0)]}


def caption_record(image_id, reason):
    ok = reason is None
    return {**common(image_id, "caption", reason), "caption": " ".join(WORDS) if ok else None,
            "tokens": WORDS if ok else [], "words": WORDS if ok else [],
            "token_to_word": list(range(len(WORDS))) if ok else [], "grid": [4, 4] if ok else None}


def language_record(image_id, reason, w2):
    ok = reason is None
    return {**common(image_id, "language", reason), "caption": " ".join(WORDS) if ok else None,
            "method": "dependency", "w1": [{"word": "riding", "path": "man->riding"}] if ok else [],
            "w2": w2 if ok else [], "evidence": [{"word": "riding", "kind": "verb"}] if ok else []}


def scene_record(image_id, reason):
    return {**common(image_id, "scene", reason), "label": None if reason else "beach",
            "class_index": None if reason else 3,
            "top_k": [] if reason else [{"index": 3, "label": "beach", "probability": 0.6}]}


def word_maps():
    """One peak per word, at a different cell of the 4 x 4 patch grid."""
    maps = np.full((len(WORDS), 4, 4), 0.01, np.float32)
    for i in range(len(WORDS)):
        maps[i, i // 4, i % 4] = 1.0
    return maps


def component_masks():
    masks = {name: np.zeros((HEIGHT, WIDTH), bool) for name in ("persons", "objects", "w1", "w2", "scene")}
    masks["persons"][6:44, 4:24] = True
    masks["objects"][30:48, 20:40] = True
    masks["w1"][0:12, 24:36] = True
    masks["scene"][36:48, 48:64] = True
    return masks


def write_artifacts(folder, image_id, reason=None, w2=("beach",)):
    """One photo's artifacts as the stages write them (checked against the schemas); returns the paths."""
    paths = {key: folder / f"{image_id}.{key.replace('_', '.')}" for key in (
        "detect_json", "persons_json", "caption_json", "caption_npz", "language_json", "scene_json", "scene_npz",
        "masks_npz", "scenario1_png", "scenario2_png")}
    paths["image"] = folder / f"{image_id}.png"
    records = {"detect_json": detect_record(image_id, reason), "persons_json": persons_record(image_id, reason),
               "caption_json": caption_record(image_id, reason),
               "language_json": language_record(image_id, reason, list(w2)),
               "scene_json": scene_record(image_id, reason)}
    for key, record in records.items():
        schema_validator(key.replace("_json", ".schema.json")).validate(record)
        write_json(paths[key], record)
    rng = np.random.default_rng(0)
    arrays = {
        "caption_npz": {"maps": np.zeros((0, 4, 4), np.float32) if reason else word_maps()},
        "scene_npz": {"relevance": np.zeros((0, 0), np.float32) if reason
                      else rng.random((14, 14)).astype(np.float32)},
        "masks_npz": {name: np.zeros((0, 0), bool) for name in component_masks()} if reason else component_masks(),
    }
    for key, named in arrays.items():
        np.savez(paths[key], **named)
        validate_npz(paths[key], load_schema(SCHEMAS / key.replace("_npz", ".npz.schema.yaml")))
    if reason:
        paths["image"].write_bytes(b"")
        for key in ("scenario1_png", "scenario2_png"):
            save_image(paths[key], np.zeros((1, 1, 3), np.uint8), format="PNG")
    else:
        save_image(paths["image"], gradient_image(HEIGHT, WIDTH), format="PNG")
        save_image(paths["scenario1_png"], gradient_image(HEIGHT, WIDTH, seed=1), format="PNG")
        save_image(paths["scenario2_png"], gradient_image(HEIGHT, WIDTH, seed=2), format="PNG")
    return paths


def aggregates():
    rows = []
    for scenario, shift in (("scenario1", 0.0), ("scenario2", 0.1)):
        for variant, ssim, blocks in (("mosaic", 0.7, 3.5), ("blur", 0.8, 6.0), ("replace", 0.9, np.nan)):
            face = np.nan if variant == "replace" else 0.2 + shift
            rows.append({"variant": variant, "scenario": scenario, "ssim_outside": ssim - shift / 2,
                         "altered_fraction": 0.3, "face_redetection_rate": face, "identity_kept_rate": 0.1 + shift,
                         "reidentification_rate": ssim / 4, "erased_reidentification_rate": 0.05 + shift,
                         "blocks_across_median": blocks, "person_redetection_rate": 0.5 - shift,
                         "words_kept_rate": 0.4})
    return pd.DataFrame(rows)


def axes_texts(ax):
    return [text.get_text() for text in ax.texts]


def figure_texts(fig):
    return [text for ax in fig.axes for text in axes_texts(ax)]


def write_twice(write, tmp_path, name):
    """``write(png, pdf)`` into two fresh folders (created by the writer); returns both files' bytes."""
    outputs = []
    for run in ("first", "second"):
        png, pdf = tmp_path / run / "sub" / f"{name}.png", tmp_path / run / "sub" / f"{name}.pdf"
        write(png, pdf)
        outputs.append((png.read_bytes(), pdf.read_bytes()))
    return outputs


def check_files(outputs, pixels):
    (png, pdf), again = outputs
    assert png and pdf and (png, pdf) == again, "equal inputs must give identical bytes"
    assert png.startswith(b"\x89PNG") and pdf.startswith(b"%PDF")
    assert b"CreationDate" not in pdf and b"Producer" not in pdf
    with Image.open(io.BytesIO(png)) as image:
        assert image.size == pixels
        assert "Software" not in image.info


def test_heat_map_is_the_masks_stage_upsampling():
    # Source x of output column j is (j + 0.5) / 2 - 0.5, clamped to [0, 1]: 0, 0.25, 0.75, 1.
    heat, note = heat_map([[0.0, 1.0], [0.0, 1.0]], 2, 4)
    assert note is None
    np.testing.assert_allclose(heat, [[0, 0.25, 0.75, 1]] * 2)


@pytest.mark.parametrize("grid", [np.zeros((0, 0)), np.full((3, 3), 0.5), [[np.nan, 1.0]]])
def test_degenerate_maps_give_a_note_not_a_map(grid):
    heat, note = heat_map(grid, HEIGHT, WIDTH)
    assert heat is None and note


def test_large_photos_are_drawn_shrunk():
    assert display_size(3000, 4000) == (600, 800) and display_size(HEIGHT, WIDTH) == (HEIGHT, WIDTH)
    mask = np.zeros((3000, 4000), bool)
    mask[:1500, :1000] = True
    small = shrink_mask(mask, (600, 800))
    assert small.dtype == bool and small.shape == (600, 800) and small.sum() == 300 * 200
    assert shrink_image(np.zeros((3000, 4000, 3), np.uint8), (600, 800)).shape == (600, 800, 3)


def test_panel_inputs_read_every_artifact(tmp_path):
    inputs = load_panel_inputs(write_artifacts(tmp_path, "photo1"), MAX_PIXELS)
    assert inputs["rejected"] is None
    assert inputs["image"].shape == (HEIGHT, WIDTH, 3) and inputs["size"] == (HEIGHT, WIDTH)
    assert inputs["mask_pixels"] == {name: int(m.sum()) for name, m in component_masks().items()}
    assert [label for label, _, _ in inputs["detections"]] == ["person", "person", "bicycle"]
    assert [role for role, _, _ in inputs["persons"]] == ["major", "minor"]
    assert inputs["words"] == {"w1": ["riding"], "w2": ["beach"]}
    riding = inputs["word_heat"]["w1"]
    assert riding.shape == (HEIGHT, WIDTH) and riding.max() == 1.0
    # "riding" (word 2) peaks in grid cell (0, 2): the top of the third quarter of the width.
    row, col = np.unravel_index(np.argmax(riding), riding.shape)
    assert row < HEIGHT // 4 and WIDTH // 2 <= col < 3 * WIDTH // 4
    assert inputs["scene_label"] == "beach" and inputs["scene_heat"].shape == (HEIGHT, WIDTH)


def test_panel_is_deterministic_at_the_fixed_size(tmp_path):
    paths = write_artifacts(tmp_path / "artifacts", "photo1")
    written = write_twice(lambda png, pdf: write_image_panel(paths, png, pdf, "photo1 (mosaic)", MAX_PIXELS), tmp_path,
                          "photo1")
    check_files(written, PANEL_PIXELS)


def test_panel_axes_are_titled_and_missing_words_say_so(tmp_path):
    fig = panel_figure(load_panel_inputs(write_artifacts(tmp_path, "photo1", w2=()), MAX_PIXELS), "photo1")
    assert len(fig.axes) == 8 and all(ax.get_title() for ax in fig.axes)
    titles = [ax.get_title() for ax in fig.axes]
    assert "w1 (red): riding" in titles[3] and "scene relevance: beach" in titles[4]
    assert "no w2 words" in axes_texts(fig.axes[3])
    assert {"major 2.00", "minor 1.00"} <= set(axes_texts(fig.axes[2]))
    assert "bicycle 0.87" in axes_texts(fig.axes[1])


def test_rejected_photo_gets_one_line(tmp_path):
    paths = write_artifacts(tmp_path / "artifacts", "broken", reason="empty file (0 bytes)")
    fig = panel_figure(load_panel_inputs(paths, MAX_PIXELS), "broken")
    assert figure_texts(fig) == ["rejected: empty file (0 bytes)"]
    written = write_twice(lambda png, pdf: write_image_panel(paths, png, pdf, "broken", MAX_PIXELS), tmp_path, "broken")
    check_files(written, PANEL_PIXELS)


def test_privacy_utility_figure_has_a_row_per_scenario_and_names_missing_values():
    fig = privacy_utility_figure(aggregates())
    assert len(fig.axes) == 10
    assert fig.axes[0].get_subplotspec().get_gridspec().get_geometry() == (2, 5)
    assert fig.axes[0].get_ylim() == (0.0, 1.0)
    assert [ax.get_ylabel() for ax in fig.axes[:5]] == [
        "re-identified (rank 1, dlib)", "re-identified (rank 1, dlib)", "face re-detection rate",
        "person re-detection rate", "caption words kept"]
    assert [ax.get_xlabel() for ax in fig.axes[:2]] == ["blocks (blur: sigmas) across a face, median", "SSIM outside"]
    assert fig.axes[0].get_xlim() == (0.0, 7.0)  # 6 blocks plus a tenth, rounded up
    for column in (0, 2, 5, 7):  # blocks across and face re-detection, in each scenario
        assert "n/a: replace" in axes_texts(fig.axes[column])
        assert "replace" not in axes_texts(fig.axes[column])[1:]  # no point annotated for it
    assert not any(text.startswith("n/a") for text in axes_texts(fig.axes[3]))
    assert {"blur", "mosaic", "replace"} <= set(axes_texts(fig.axes[3]))
    # The flat-erase control is a dashed line at the mean of the scenario's variants, on both re-identification panels.
    for column, control in ((0, 0.05), (1, 0.05), (6, 0.15)):
        ax = fig.axes[column]
        assert [line.get_ydata()[0] for line in ax.get_lines()] == [pytest.approx(control)]
        assert [text.get_text() for text in ax.get_legend().get_texts()] == [f"flat-erase control {control:.2f}"]
    assert not fig.axes[2].get_lines() and fig.axes[2].get_legend() is None


def test_a_large_sweep_gets_one_legend_instead_of_names_at_points():
    base = aggregates()
    table = pd.concat([base.assign(variant=base["variant"] + f"_{n}") for n in (2, 3, 4, 6)], ignore_index=True)
    table.loc[table["variant"].str.startswith("replace"), "person_redetection_rate"] = np.nan
    fig = privacy_utility_figure(table)
    [legend] = fig.legends
    assert [text.get_text() for text in legend.get_texts()] == sorted(table["variant"].unique())  # 12 variants
    assert axes_texts(fig.axes[1]) == []  # no names at the points
    assert axes_texts(fig.axes[0]) == ["n/a: replace_2, replace_3, replace_4, replace_6"]
    table["person_redetection_rate"] = np.nan
    assert axes_texts(privacy_utility_figure(table).axes[3]) == ["n/a: every variant"]


def test_control_band_spans_the_variants_control_rates():
    table = aggregates()
    table.loc[table["scenario"] == "scenario1", "erased_reidentification_rate"] = [0.1, 0.3, np.nan]
    fig = privacy_utility_figure(table)
    [band] = fig.axes[0].patches
    assert band.get_y() == pytest.approx(0.1) and band.get_height() == pytest.approx(0.2)  # lowest to highest
    assert fig.axes[0].get_lines()[0].get_ydata()[0] == pytest.approx(0.2)  # the mean of the finite rates
    assert not fig.axes[5].patches  # scenario 2's variants agree: no band


def test_privacy_utility_files_are_deterministic(tmp_path):
    csv = tmp_path / "aggregates.csv"
    aggregates().to_csv(csv, index=False)
    fig = privacy_utility_figure(aggregates())
    width, height = fig.get_size_inches()
    check_files(write_twice(lambda png, pdf: write_privacy_utility(csv, png, pdf), tmp_path, "sweep"),
                (round(width * PNG_DPI), round(height * PNG_DPI)))


def test_privacy_utility_names_missing_columns():
    with pytest.raises(ValueError, match="ssim_outside"):
        privacy_utility_figure(aggregates().drop(columns="ssim_outside"))


def test_bytes_are_equal_across_processes(tmp_path):
    """Another interpreter with another hash seed writes the same bytes."""
    paths = write_artifacts(tmp_path / "artifacts", "photo1")
    csv = tmp_path / "aggregates.csv"
    aggregates().to_csv(csv, index=False)
    here = {"panel": tmp_path / "here" / "panel", "sweep": tmp_path / "here" / "sweep"}
    there = {"panel": tmp_path / "there" / "panel", "sweep": tmp_path / "there" / "sweep"}
    write_image_panel(paths, here["panel"].with_suffix(".png"), here["panel"].with_suffix(".pdf"), "photo1", MAX_PIXELS)
    write_privacy_utility(csv, here["sweep"].with_suffix(".png"), here["sweep"].with_suffix(".pdf"))
    script = (
        "import sys, json\n"
        "from pathlib import Path\n"
        "from photoprivacy.figures.panels import write_image_panel\n"
        "from photoprivacy.figures.sweep import write_privacy_utility\n"
        "paths, csv, panel, sweep = json.loads(sys.argv[1])\n"
        f"write_image_panel(paths, Path(panel + '.png'), Path(panel + '.pdf'), 'photo1', {MAX_PIXELS})\n"
        "write_privacy_utility(csv, Path(sweep + '.png'), Path(sweep + '.pdf'))\n"
    )
    argument = json.dumps([{k: str(v) for k, v in paths.items()}, str(csv), str(there["panel"]),
                           str(there["sweep"])])
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(REPO / "src")}
    subprocess.run([sys.executable, "-c", script, argument], check=True, env=env, cwd=tmp_path)
    for name in ("panel", "sweep"):
        for suffix in (".png", ".pdf"):
            assert here[name].with_suffix(suffix).read_bytes() == there[name].with_suffix(suffix).read_bytes()
