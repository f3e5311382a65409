# Scenario 1, relations: which detected objects belong to which person (nearest,
# overlapping, contained, and the action word's object). No model: one job per shard.

RELATIONS_OUTPUT = "results/relations/{image_id}.json"

for shard in stage_shards("relations"):

    rule:
        name:
            rule_name("relations", shard)
        input:
            images=shard_index("images", shard),
            detections=model_indexes("detect", [shard]),
            language=model_indexes("language", [shard]),
        output:
            **shard_job_outputs(shard_index("relations", shard), shard, {"json": RELATIONS_OUTPUT}),
        log:
            f"results/logs/relations/{shard}.log",
        benchmark:
            f"results/benchmarks/relations/{shard}.tsv"
        params:
            stage=stage_params.relations(config),
            files={
                "detect_json": DETECT_OUTPUTS["json"],
                "language_json": LANGUAGE_OUTPUT,
                "json": RELATIONS_OUTPUT,
            },
        conda:
            "../../envs/models.yaml"
        script:
            "../../scripts/relations.py"
