# Scenario 1, captions: one job per shard loads the captioner once; per image a
# caption JSON and an .npz with one attention map per caption word.

CAPTION_OUTPUTS = {
    "json": "results/caption/{image_id}.json",
    "npz": "results/caption/{image_id}.npz",
}

for shard in SHARDS:

    rule:
        name:
            f"caption_{shard}"
        input:
            images=shard_index("images", shard),
            model=model_manifest(captioner_family()),
        output:
            **shard_job_outputs(shard_index("caption", shard), shard, CAPTION_OUTPUTS),
        log:
            f"results/logs/caption/{shard}.log",
        benchmark:
            f"results/benchmarks/caption/{shard}.tsv"
        params:
            stage=caption_params(),
            files=CAPTION_OUTPUTS,
            max_image_pixels=config["execution"]["max_image_pixels"],
        threads: 2
        resources:
            mem_mb=job_resources("caption")["mem_mb"],
            runtime=job_resources("caption")["runtime"],
            gpu=job_resources("caption")["gpu"],
            **partition_resource("caption"),
        conda:
            "../../envs/models.yaml"
        script:
            "../../scripts/caption.py"
