# Models are inputs: pretrained weights are fetched into resources/ (pinned
# revision, SHA-256 manifest); the offline profile builds random models of
# the same classes instead. Inference reads only these local folders.


rule fetch_model:
    output:
        manifest=f"{MODELS_DIR}/hub/{{family}}/manifest.json",
    log:
        "results/logs/models/hub-{family}.log",
    benchmark:
        "results/benchmarks/models/hub-{family}.tsv"
    params:
        spec=lambda wildcards: config["models"][wildcards.family],
    conda:
        "../../envs/models.yaml"
    script:
        "../../scripts/fetch_model.py"


rule build_offline_model:
    output:
        manifest=f"{MODELS_DIR}/offline/{{family}}-{{size}}/manifest.json",
    log:
        "results/logs/models/offline-{family}-{size}.log",
    benchmark:
        "results/benchmarks/models/offline-{family}-{size}.tsv"
    params:
        seed=config["models"]["offline_seed"],
        version=STAGE_VERSIONS["offline_model"],
    conda:
        "../../envs/models.yaml"
    script:
        "../../scripts/build_offline_model.py"
