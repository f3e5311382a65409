# Detection: one job per shard of images; each job loads DETR once and runs
# its images in padded batches. Per-image outputs are declared, so
# `snakemake results/detect/<id>.json` works and later stages can depend on them.

DETECT_OUTPUTS = {
    "json": "results/detect/{image_id}.json",
    "npz": "results/detect/{image_id}.npz",
}

for shard in SHARDS:

    rule:
        name:
            f"detect_{shard}"
        input:
            images=[str(IMAGES[image_id]) for image_id in SHARDS[shard]],
            model=detect_model_input(),
        output:
            json=shard_outputs(shard, DETECT_OUTPUTS["json"]),
            npz=shard_outputs(shard, DETECT_OUTPUTS["npz"]),
        log:
            f"results/logs/detect/{shard}.log",
        benchmark:
            f"results/benchmarks/detect/{shard}.tsv"
        params:
            stage=detect_params(),
            images=shard_items(shard, DETECT_OUTPUTS),
            max_image_pixels=config["execution"]["max_image_pixels"],
        threads: 2
        resources:
            mem_mb=job_resources("detect")["mem_mb"],
            runtime=job_resources("detect")["runtime"],
            gpu=job_resources("detect")["gpu"],
        conda:
            "../../envs/models.yaml"
        script:
            "../../scripts/detect.py"
