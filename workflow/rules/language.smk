# Scenario 1, caption analysis and relations: which caption words tie to the
# person's action (w1) and place (w2), and which objects belong to which person.

LANGUAGE_OUTPUT = "results/language/{image_id}.json"
RELATIONS_OUTPUT = "results/relations/{image_id}.json"

# spaCy needs no GPU, but a job over many shards also saves its per-job start (it is fast per caption).
BERT_LANGUAGE = config["language"]["method"] == "bert_attention"

for job, shards in MODEL_JOBS.items():

    checkpoint:
        name:
            rule_name("language", job)
        input:
            images=[shard_index("images", shard) for shard in shards],
            captions=model_indexes("caption", shards),
            model=language_model_input(),
        output:
            **job_outputs(functools.partial(shard_index, "language"), shards, {"json": LANGUAGE_OUTPUT}),
        log:
            f"results/logs/language/{job}.log",
        benchmark:
            f"results/benchmarks/language/{job}.tsv"
        params:
            stage=language_params(),
            files={"caption_json": CAPTION_OUTPUTS["json"], "json": LANGUAGE_OUTPUT},
        threads: job_threads("language")
        resources:
            mem_mb=job_resources("language")["mem_mb"],
            runtime=job_resources("language")["runtime"],
            gpu=job_resources("language")["gpu"] if BERT_LANGUAGE else 0,
            **partition_resource("language", applies=BERT_LANGUAGE),
        conda:
            "../../envs/models.yaml"
        script:
            "../../scripts/language.py"


for shard in SHARDS:

    rule:
        name:
            f"relations_{shard}"
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
