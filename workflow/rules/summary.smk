# Run summary: which images could not be used, and why.


rule summarize_rejected:
    input:
        detections=model_indexes("detect", list(SHARDS)),
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
