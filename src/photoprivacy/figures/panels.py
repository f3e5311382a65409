"""The per-image panel: what every stage saw and decided for one photo, side by side.

Eight axes: the original, detections, persons (major / minor), caption word
attention (w1 / w2), scene relevance, the scenario 1 mask components and both
protected outputs. A photo that some stage rejected gets one line saying why.
"""

import numpy as np
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle
from PIL import Image

from ..artifacts import read_json
from ..errors import ImageRejected
from ..images import load_rgb
from ..language.words import word_texts
from ..masks.components import COMPONENTS, caption_word_indices
from ..masks.heatmaps import upsample_and_normalise
from .save import figure_style, save_figure

FIGSIZE = (16, 8)
MASK_COLOURS = {"persons": "tab:red", "objects": "tab:orange", "w1": "tab:green", "w2": "tab:blue",
                "scene": "tab:purple"}
ROLE_COLOURS = {"major": "tab:red", "minor": "tab:cyan"}
DETECTION_COLOUR = "tab:olive"
# Checked in this order, so the panel reports the earliest stage that rejected the photo.
STAGE_JSONS = ("detect_json", "persons_json", "caption_json", "language_json", "scene_json")
WORD_LISTS = ("w1", "w2")
TITLE_WORDS = 3  # more words than this are elided in an axes title
# Long side of the arrays drawn: an axes is about 550 px wide at 150 dpi, and full-size RGBA
# overlays of a 12-megapixel photo would take gigabytes.
DISPLAY_PIXELS = 800


# --- maps -------------------------------------------------------------------------------

def heat_map(grid, height, width):
    """Grid -> (map in [0, 1] at image size, None), or (None, why there is no map); as the masks stage sees it."""
    grid = np.asarray(grid, np.float32)
    if grid.ndim != 2:
        return None, "no map"
    heat, reason = upsample_and_normalise(grid, height, width, "bilinear")  # a display, at display size
    return (None, reason) if reason else (heat, None)


def display_size(height, width):
    """(height, width) of the arrays drawn for an image of this size: at most DISPLAY_PIXELS long."""
    scale = min(1.0, DISPLAY_PIXELS / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def shrink_image(image, size):
    if image.shape[:2] == size:
        return image
    return np.asarray(Image.fromarray(image).resize(size[::-1], Image.Resampling.BOX))


def shrink_mask(mask, size):
    """Nearest-neighbour, so a mask stays boolean."""
    if mask.shape == size or not mask.size:
        return mask
    rows = ((np.arange(size[0]) + 0.5) * mask.shape[0] / size[0]).astype(np.int64)
    cols = ((np.arange(size[1]) + 0.5) * mask.shape[1] / size[1]).astype(np.int64)
    return mask[rows][:, cols]


# --- words ------------------------------------------------------------------------------

def words_heat(words, caption_words, word_maps, height, width):
    """Mean attention of ``words`` -> (map or None, note)."""
    if not words:
        return None, "no words"
    indices = sorted({i for word in words for i in caption_word_indices(word, caption_words)})
    indices = [i for i in indices if i < len(word_maps)]
    if not indices:
        return None, "no maps for these words"
    return heat_map(np.mean(word_maps[indices], axis=0), height, width)


# --- loading ----------------------------------------------------------------------------

def rejection_reason(records):
    for record in records:
        if record.get("status") == "rejected":
            return record.get("reason") or "no reason given"
    return None


def _npz_arrays(path, names):
    with np.load(path, allow_pickle=False) as data:
        return {name: data[name] for name in names}


def _shrunk_rgb(path, max_pixels):
    image = load_rgb(path, max_pixels)
    return shrink_image(image, display_size(*image.shape[:2]))


def load_panel_inputs(paths, max_pixels):
    """Everything the panel draws, from one photo's artifacts; ``paths`` names them by key
    (image, detect_json, persons_json, caption_json, caption_npz, language_json, scene_json,
    scene_npz, masks_npz, scenario1_png, scenario2_png); larger photos than ``max_pixels`` are rejected."""
    records = {key: read_json(paths[key]) for key in STAGE_JSONS}
    image_id = records["detect_json"]["image_id"]
    reason = rejection_reason(records[key] for key in STAGE_JSONS)
    if reason is not None:
        return {"image_id": image_id, "rejected": reason}
    try:
        image = load_rgb(paths["image"], max_pixels)
    except ImageRejected as rejected:  # the photo changed or vanished since the stages ran
        return {"image_id": image_id, "rejected": rejected.reason}
    shown = display_size(*image.shape[:2])
    caption, language, scene = records["caption_json"], records["language_json"], records["scene_json"]
    word_maps = _npz_arrays(paths["caption_npz"], ["maps"])["maps"]
    words = {name: word_texts(language.get(name, [])) for name in WORD_LISTS}
    word_heat = {name: words_heat(words[name], caption.get("words", []), word_maps, *shown)
                 for name in WORD_LISTS}
    scene_heat, scene_note = heat_map(_npz_arrays(paths["scene_npz"], ["relevance"])["relevance"], *shown)
    masks = _npz_arrays(paths["masks_npz"], COMPONENTS)
    return {
        "image_id": image_id,
        "rejected": None,
        "size": image.shape[:2],
        "image": shrink_image(image, shown),
        "detections": [(d["label"], d["score"], d["box_xyxy"]) for d in records["detect_json"]["detections"]],
        "persons": [(p["role"], p["final_score"], p["box_xyxy"]) for p in records["persons_json"]["persons"]],
        "words": words,
        "word_heat": {name: heat for name, (heat, _) in word_heat.items()},
        "word_notes": {name: note for name, (_, note) in word_heat.items()},
        "scene_label": scene.get("label"),
        "scene_heat": scene_heat,
        "scene_note": scene.get("reason") or scene_note,
        "masks": {name: shrink_mask(mask, shown) for name, mask in masks.items()},
        "mask_pixels": {name: int(mask.sum()) for name, mask in masks.items()},
        "scenario1": _shrunk_rgb(paths["scenario1_png"], max_pixels),
        "scenario2": _shrunk_rgb(paths["scenario2_png"], max_pixels),
    }


# --- drawing ----------------------------------------------------------------------------

def _show(ax, image, size=None, **kwargs):
    """Draw ``image`` over the original's pixel coordinates (``size``, default its own):
    pixel (i, j) covers [j, j+1) x [i, i+1), as boxes assume, however much the array was shrunk."""
    height, width = size or image.shape[:2]
    ax.imshow(image, extent=(0, width, height, 0), **kwargs)
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)


def _corner_note(ax, lines):
    ax.text(0.02, 0.98, "\n".join(lines), transform=ax.transAxes, va="top", ha="left", fontsize=8,
            bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none"})


def _draw_box(ax, box, colour, label):
    x0, y0, x1, y1 = box
    ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor=colour, linewidth=1.5))
    ax.text(x0, y0, label, fontsize=7, color="white", va="bottom", ha="left", clip_on=True,
            bbox={"facecolor": colour, "alpha": 0.8, "edgecolor": "none", "pad": 1})


def _elided(words):
    shown = ", ".join(words[:TITLE_WORDS])
    return shown + (", ..." if len(words) > TITLE_WORDS else "") if words else "-"


def draw_original(ax, inputs):
    height, width = inputs["size"]
    _show(ax, inputs["image"], inputs["size"])
    ax.set_title(f"original ({width}x{height})")


def draw_detections(ax, inputs):
    _show(ax, inputs["image"], inputs["size"])
    for label, score, box in inputs["detections"]:
        _draw_box(ax, box, DETECTION_COLOUR, f"{label} {score:.2f}")
    ax.set_title(f"detections ({len(inputs['detections'])})")


def draw_persons(ax, inputs):
    _show(ax, inputs["image"], inputs["size"])
    for role, final_score, box in inputs["persons"]:
        _draw_box(ax, box, ROLE_COLOURS[role], f"{role} {final_score:.2f}")
    majors = sum(role == "major" for role, _, _ in inputs["persons"])
    ax.set_title(f"persons ({majors} major, {len(inputs['persons']) - majors} minor)")


def draw_word_attention(ax, inputs):
    """w1 in the red channel, w2 in the blue one, so both fit one axes (overlap reads magenta)."""
    _show(ax, inputs["image"], inputs["size"])
    zero = np.zeros(inputs["image"].shape[:2])
    w1, w2 = (inputs["word_heat"][name] for name in WORD_LISTS)
    missing = [f"no {name} words" if not inputs["words"][name] else f"no {name} map: {inputs['word_notes'][name]}"
               for name in WORD_LISTS if inputs["word_heat"][name] is None]
    if len(missing) < len(WORD_LISTS):
        w1 = zero if w1 is None else w1
        w2 = zero if w2 is None else w2
        overlay = np.stack([w1, zero, w2, 0.7 * np.maximum(w1, w2)], axis=-1)
        _show(ax, overlay, inputs["size"])
    if missing:
        _corner_note(ax, missing)
    words = inputs["words"]
    ax.set_title(f"w1 (red): {_elided(words['w1'])} | w2 (blue): {_elided(words['w2'])}", fontsize=9)


def draw_scene(ax, inputs):
    _show(ax, inputs["image"], inputs["size"])
    if inputs["scene_heat"] is not None:
        _show(ax, inputs["scene_heat"], inputs["size"], cmap="inferno", alpha=0.55, vmin=0.0, vmax=1.0)
    else:
        _corner_note(ax, [f"no relevance: {inputs['scene_note']}"])
    ax.set_title(f"scene relevance: {inputs['scene_label'] or '-'}")


def draw_masks(ax, inputs):
    _show(ax, (inputs["image"] * 0.4).astype(np.uint8), inputs["size"])  # dimmed, so the colours stand out
    handles = []
    for name in COMPONENTS:
        mask = inputs["masks"][name]
        if mask.size:
            overlay = np.zeros((*mask.shape, 4), np.float32)
            overlay[mask] = (*to_rgb(MASK_COLOURS[name]), 0.55)
            _show(ax, overlay, inputs["size"])
        handles.append(Patch(facecolor=MASK_COLOURS[name], label=f"{name} ({inputs['mask_pixels'][name]} px)"))
    ax.legend(handles=handles, loc="lower right", fontsize=7, framealpha=0.8)
    ax.set_title("scenario 1 mask components")


def draw_scenario1(ax, inputs):
    _show(ax, inputs["scenario1"])
    ax.set_title("scenario 1 output")


def draw_scenario2(ax, inputs):
    _show(ax, inputs["scenario2"])
    ax.set_title("scenario 2 output")


PANELS = (draw_original, draw_detections, draw_persons, draw_word_attention,
          draw_scene, draw_masks, draw_scenario1, draw_scenario2)


def panel_figure(inputs, title):
    """The panel of one photo (2 x 4 axes), or one line of text for a rejected photo."""
    with figure_style():
        fig = Figure(figsize=FIGSIZE, layout="tight")
        fig.suptitle(title)
        if inputs["rejected"] is not None:
            ax = fig.add_subplot()
            ax.set_axis_off()
            ax.text(0.5, 0.5, f"rejected: {inputs['rejected']}", ha="center", va="center", fontsize=14, wrap=True)
            return fig
        for ax, draw in zip(fig.subplots(2, 4).ravel(), PANELS, strict=True):
            draw(ax, inputs)
            ax.set_axis_off()
    return fig


def write_image_panel(paths, png_path, pdf_path, title, max_pixels):
    """Load one photo's artifacts, draw its panel and write it as PNG and PDF."""
    fig = panel_figure(load_panel_inputs(paths, max_pixels), title)
    save_figure(fig, png_path, pdf_path)
    fig.clear()  # no pyplot registry holds it; clearing frees the image arrays at once
