# Scenario 1, caption analysis: which caption words tie to the person's action
# (w1) and place (w2). A model stage whatever the method: spaCy needs no GPU, but
# a job over many shards also saves its per-job start (it is fast per caption).

LANGUAGE_OUTPUT = "results/language/{image_id}.json"

for job, shards in model_jobs("language").items():

    checkpoint:
        name:
            rule_name("language", job)
        input:
            images=[shard_index("images", shard) for shard in shards],
            captions=model_indexes("caption", shards),
            model=plugin_model(LANGUAGE_METHODS),
        output:
            **job_outputs(functools.partial(shard_index, "language"), shards, {"json": LANGUAGE_OUTPUT}),
        log:
            f"results/logs/language/{job}.log",
        benchmark:
            f"results/benchmarks/language/{job}.tsv"
        params:
            stage=stage_params.language(config),
            files={"caption_json": CAPTION_OUTPUTS["json"], "json": LANGUAGE_OUTPUT},
        threads: job_threads("language")
        resources:
            **job_resources("language", on_device(LANGUAGE_METHODS)),
        conda:
            "../../envs/models.yaml"
        script:
            "../../scripts/language.py"
