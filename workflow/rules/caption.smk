# Scenario 1, captions: each model job loads the captioner once; per image a
# caption JSON and an .npz with one attention map per caption word.

CAPTION_OUTPUTS = {
    "json": "results/caption/{image_id}.json",
    "npz": "results/caption/{image_id}.npz",
}


for job, shards in model_jobs("caption").items():

    checkpoint:
        name:
            rule_name("caption", job)
        input:
            images=[shard_index("images", shard) for shard in shards],
            model=plugin_model(CAPTIONERS),
        output:
            **job_outputs(functools.partial(shard_index, "caption"), shards, CAPTION_OUTPUTS),
        log:
            f"results/logs/caption/{job}.log",
        benchmark:
            f"results/benchmarks/caption/{job}.tsv"
        params:
            stage=stage_params.caption(config),
            files=CAPTION_OUTPUTS,
            max_image_pixels=config["execution"]["max_image_pixels"],
        threads: job_threads("caption")
        resources:
            **job_resources("caption", on_device(CAPTIONERS)),
        conda:
            "../../envs/models.yaml"
        script:
            "../../scripts/caption.py"
