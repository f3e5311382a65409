# Scenario 1, caption analysis and relations: which caption words tie to the
# person's action (w1) and place (w2), and which objects belong to which person.

LANGUAGE_OUTPUT = "results/language/{image_id}.json"
RELATIONS_OUTPUT = "results/relations/{image_id}.json"

for shard in SHARDS:

    rule:
        name:
            f"language_{shard}"
        input:
            images=shard_index("images", shard),
            captions=shard_index("caption", shard),
            model=language_model_input(),
        output:
            **shard_job_outputs(shard_index("language", shard), shard, {"json": LANGUAGE_OUTPUT}),
        log:
            f"results/logs/language/{shard}.log",
        benchmark:
            f"results/benchmarks/language/{shard}.tsv"
        params:
            stage=language_params(),
            files={"caption_json": CAPTION_OUTPUTS["json"], "json": LANGUAGE_OUTPUT},
        threads: 2
        resources:
            mem_mb=job_resources("language")["mem_mb"],
            runtime=job_resources("language")["runtime"],
            gpu=job_resources("language")["gpu"] if config["language"]["method"] == "bert_attention" else 0,
            **partition_resource("language", applies=config["language"]["method"] == "bert_attention"),
        conda:
            "../../envs/models.yaml"
        script:
            "../../scripts/language.py"

    rule:
        name:
            f"relations_{shard}"
        input:
            images=shard_index("images", shard),
            detections=shard_index("detect", shard),
            language=shard_index("language", shard),
        output:
            **shard_job_outputs(shard_index("relations", shard), shard, {"json": RELATIONS_OUTPUT}),
        log:
            f"results/logs/relations/{shard}.log",
        benchmark:
            f"results/benchmarks/relations/{shard}.tsv"
        params:
            stage=relations_params(),
            files={
                "detect_json": DETECT_OUTPUTS["json"],
                "language_json": LANGUAGE_OUTPUT,
                "json": RELATIONS_OUTPUT,
            },
        conda:
            "../../envs/models.yaml"
        script:
            "../../scripts/relations.py"
