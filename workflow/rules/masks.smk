# Scenario 1, masks: one mask per component (persons, related objects, w1 and
# w2 word attention, scene relevance), kept apart so variants can switch them.
# Sweep variants with other mask settings get their own.

MASKS_OUTPUTS = {
    "npz": "results/masks/{image_id}.npz",
    "json": "results/masks/{image_id}.json",
}

for group in stage_groups("masks"):
    outputs = {key: scoped(pattern, group) for key, pattern in MASKS_OUTPUTS.items()}
    for shard in SHARDS:

        rule:
            name:
                rule_name("masks", shard, group)
            input:
                detections=shard_outputs(shard, DETECT_OUTPUTS["json"]),
                relations=shard_outputs(shard, RELATIONS_OUTPUT),
                captions=shard_outputs(shard, CAPTION_OUTPUTS["json"]),
                word_maps=shard_outputs(shard, CAPTION_OUTPUTS["npz"]),
                language=shard_outputs(shard, LANGUAGE_OUTPUT),
                scenes=shard_outputs(shard, SCENE_OUTPUTS["json"]),
                relevance=shard_outputs(shard, SCENE_OUTPUTS["npz"]),
            output:
                npz=shard_outputs(shard, outputs["npz"]),
                json=shard_outputs(shard, outputs["json"]),
            log:
                scoped(f"results/logs/masks/{shard}.log", group),
            benchmark:
                scoped(f"results/benchmarks/masks/{shard}.tsv", group)
            params:
                stage=masks_params(VARIANTS[group]),
                images=shard_items(
                    shard,
                    {
                        "detect_json": DETECT_OUTPUTS["json"],
                        "relations_json": RELATIONS_OUTPUT,
                        "caption_json": CAPTION_OUTPUTS["json"],
                        "caption_npz": CAPTION_OUTPUTS["npz"],
                        "language_json": LANGUAGE_OUTPUT,
                        "scene_json": SCENE_OUTPUTS["json"],
                        "scene_npz": SCENE_OUTPUTS["npz"],
                        **outputs,
                    },
                ),
            conda:
                "../../envs/models.yaml"
            script:
                "../../scripts/masks.py"
