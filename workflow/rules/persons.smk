# Scenario 2, person importance: attention and distance scores, ranks, major/minor.
# No model: one cheap job per shard.

PERSONS_OUTPUT = "results/persons/{image_id}.json"

for shard in SHARDS:

    rule:
        name:
            f"persons_{shard}"
        input:
            detections=shard_outputs(shard, DETECT_OUTPUTS["json"]),
            attention=shard_outputs(shard, DETECT_OUTPUTS["npz"]),
        output:
            json=shard_outputs(shard, PERSONS_OUTPUT),
        log:
            f"results/logs/persons/{shard}.log",
        benchmark:
            f"results/benchmarks/persons/{shard}.tsv"
        params:
            stage=persons_params(),
            images=shard_items(
                shard,
                {
                    "detect_json": DETECT_OUTPUTS["json"],
                    "detect_npz": DETECT_OUTPUTS["npz"],
                    "json": PERSONS_OUTPUT,
                },
            ),
        conda:
            "../../envs/models.yaml"
        script:
            "../../scripts/persons.py"
