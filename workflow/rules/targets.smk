# What the run's targets are made of: the protected photos and videos of every variant,
# the metrics tables and the figures (the Snakefile's all and protect rules ask for
# them), with the files each figure panel shows (rules/figures.smk).


def figure_panel_ids():
    panels = config["figures"]["panels"]
    if isinstance(panels, int):
        return sorted(PHOTOS)[:panels]
    unknown = [image_id for image_id in panels if image_id not in PHOTOS]
    if unknown:
        raise WorkflowError(f"config key figures.panels: no photo with id '{unknown[0]}'")
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


def protected_outputs():
    """The indexes of the shard jobs that write every variant's protected photos, and the
    per-image files missing from finished shards (asked for, so they are made again)."""
    indexes = [
        shard_index(f"render_{scenario}", shard, variant)
        for variant in VARIANTS
        for scenario in ("scenario1", "scenario2")
        for shard in stage_shards(f"render_{scenario}")
    ]
    videos = [
        f"results/final/{variant}/{scenario}/{video_id}.mp4"
        for variant in VARIANTS
        for scenario in ("scenario1", "scenario2")
        for video_id in VIDEOS
    ]
    return [*indexes, *videos, "results/summary/rejected.tsv", *MISSING_FILES]


def get_final_outputs():
    """Everything: protected photos and videos, their metrics, and the figures (of photos)."""
    photos = [*METRICS_TABLES.values(), *figure_outputs()] if PHOTOS else []
    videos = [VIDEO_METRICS_TABLE] if VIDEOS else []
    return [*protected_outputs(), *photos, *videos]
