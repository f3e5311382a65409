# Scenario 1, masks: one mask per component (persons, related objects, w1 and
# w2 word attention, scene relevance), kept apart so variants can switch them.
# Sweep variants with other mask settings get their own.

MASKS_OUTPUTS = {
    "npz": "results/masks/{image_id}.npz",
    "json": "results/masks/{image_id}.json",
}


share_stage("masks", stage_params.masks)

for group in stage_groups("masks"):
    outputs = {key: scoped(pattern, group) for key, pattern in MASKS_OUTPUTS.items()}
    for shard in stage_shards("masks"):

        rule:
            name:
                rule_name("masks", shard, group)
            input:
                images=shard_index("images", shard),
                detections=model_indexes("detect", [shard]),
                relations=shard_index("relations", shard),
                captions=model_indexes("caption", [shard]),
                language=model_indexes("language", [shard]),
                scenes=model_indexes("scene", [shard]),
            output:
                **shard_job_outputs(scoped(shard_index("masks", shard), group), shard, outputs),
            log:
                scoped(f"results/logs/masks/{shard}.log", group),
            benchmark:
                scoped(f"results/benchmarks/masks/{shard}.tsv", group)
            params:
                stage=stage_params.masks(VARIANTS[group]),
                files={
                    "detect_json": DETECT_OUTPUTS["json"],
                    "relations_json": RELATIONS_OUTPUT,
                    "caption_json": CAPTION_OUTPUTS["json"],
                    "caption_npz": CAPTION_OUTPUTS["npz"],
                    "language_json": LANGUAGE_OUTPUT,
                    "scene_json": SCENE_OUTPUTS["json"],
                    "scene_npz": SCENE_OUTPUTS["npz"],
                    **outputs,
                },
            conda:
                "../../envs/models.yaml"
            script:
                "../../scripts/masks.py"
