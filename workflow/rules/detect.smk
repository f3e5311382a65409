# Detection: execution.model_jobs jobs, each over a run of shards, load DETR once
# and run their images in padded batches (never across shards). A job's declared
# outputs are its shards' indexes (see common.smk); `snakemake results/detect/<id>.json` still builds one image's files.

DETECT_OUTPUTS = {
    "json": "results/detect/{image_id}.json",
    "npz": "results/detect/{image_id}.npz",
}


for job, shards in model_jobs("detect").items():

    checkpoint:
        name:
            rule_name("detect", job)
        input:
            images=[shard_index("images", shard) for shard in shards],
            model=plugin_model(OBJECT_DETECTORS),
            files=OBJECT_DETECTORS.files(config),
        output:
            **job_outputs(functools.partial(shard_index, "detect"), shards, DETECT_OUTPUTS),
        log:
            f"results/logs/detect/{job}.log",
        benchmark:
            f"results/benchmarks/detect/{job}.tsv"
        params:
            stage=stage_params.detect(config),
            files=DETECT_OUTPUTS,
            max_image_pixels=config["execution"]["max_image_pixels"],
        threads: job_threads("detect")
        resources:
            **job_resources("detect", on_device(OBJECT_DETECTORS)),
        conda:
            "../../envs/models.yaml"
        script:
            "../../scripts/detect.py"
