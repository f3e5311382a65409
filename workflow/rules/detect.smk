# Detection: one job per shard of images; each job loads DETR once and runs
# its images in padded batches. Its declared output is the shard's index (see
# common.smk); `snakemake results/detect/<id>.json` still builds one image's files.

DETECT_OUTPUTS = {
    "json": "results/detect/{image_id}.json",
    "npz": "results/detect/{image_id}.npz",
}

for shard in SHARDS:

    rule:
        name:
            f"detect_{shard}"
        input:
            images=shard_index("images", shard),
            model=detect_model_input(),
        output:
            **shard_job_outputs(shard_index("detect", shard), shard, DETECT_OUTPUTS),
        log:
            f"results/logs/detect/{shard}.log",
        benchmark:
            f"results/benchmarks/detect/{shard}.tsv"
        params:
            stage=detect_params(),
            files=DETECT_OUTPUTS,
            max_image_pixels=config["execution"]["max_image_pixels"],
        threads: 2
        resources:
            mem_mb=job_resources("detect")["mem_mb"],
            runtime=job_resources("detect")["runtime"],
            gpu=job_resources("detect")["gpu"],
            **partition_resource("detect"),
        conda:
            "../../envs/models.yaml"
        script:
            "../../scripts/detect.py"
