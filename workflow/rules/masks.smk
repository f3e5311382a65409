# Scenario 1, masks: one mask per component (persons, related objects, w1 and
# w2 word attention, scene relevance), kept apart so variants can switch them.

MASKS_OUTPUTS = {
    "npz": "results/masks/{image_id}.npz",
    "json": "results/masks/{image_id}.json",
}

for shard in SHARDS:

    rule:
        name:
            f"masks_{shard}"
        input:
            detections=shard_outputs(shard, DETECT_OUTPUTS["json"]),
            relations=shard_outputs(shard, RELATIONS_OUTPUT),
            captions=shard_outputs(shard, CAPTION_OUTPUTS["json"]),
            word_maps=shard_outputs(shard, CAPTION_OUTPUTS["npz"]),
            language=shard_outputs(shard, LANGUAGE_OUTPUT),
            scenes=shard_outputs(shard, SCENE_OUTPUTS["json"]),
            relevance=shard_outputs(shard, SCENE_OUTPUTS["npz"]),
        output:
            npz=shard_outputs(shard, MASKS_OUTPUTS["npz"]),
            json=shard_outputs(shard, MASKS_OUTPUTS["json"]),
        log:
            f"results/logs/masks/{shard}.log",
        benchmark:
            f"results/benchmarks/masks/{shard}.tsv"
        params:
            stage=masks_params(),
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
                    **MASKS_OUTPUTS,
                },
            ),
        conda:
            "../../envs/models.yaml"
        script:
            "../../scripts/masks.py"
