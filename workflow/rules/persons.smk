# Scenario 2, person importance: attention and distance scores, ranks, major/minor.
# No model: one cheap job per shard (and per sweep variant whose scoring differs).

PERSONS_OUTPUT = "results/persons/{image_id}.json"


share_stage("persons", stage_params.persons)

for group in stage_groups("persons"):
    output_pattern = scoped(PERSONS_OUTPUT, group)
    for shard in SHARDS:

        rule:
            name:
                rule_name("persons", shard, group)
            input:
                images=shard_index("images", shard),
                detections=model_indexes("detect", [shard]),
            output:
                **shard_job_outputs(scoped(shard_index("persons", shard), group), shard, {"json": output_pattern}),
            log:
                scoped(f"results/logs/persons/{shard}.log", group),
            benchmark:
                scoped(f"results/benchmarks/persons/{shard}.tsv", group)
            params:
                stage=stage_params.persons(VARIANTS[group]),
                files={
                    "detect_json": DETECT_OUTPUTS["json"],
                    "detect_npz": DETECT_OUTPUTS["npz"],
                    "json": output_pattern,
                },
            conda:
                "../../envs/models.yaml"
            script:
                "../../scripts/persons.py"
