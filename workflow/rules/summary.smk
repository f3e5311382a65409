# Run summary: which images and videos could not be used, and why.


rule summarize_rejected:
    input:
        detections=model_indexes("detect", list(SHARDS)),
        videos=[video_record_path(video_id) for video_id in VIDEO_RECORDS],
    output:
        rejected="results/summary/rejected.tsv",
    log:
        "results/logs/summary/rejected.log",
    benchmark:
        "results/benchmarks/summary/rejected.tsv"
    conda:
        "../../envs/models.yaml"
    script:
        "../../scripts/summarize_rejected.py"
