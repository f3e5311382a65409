# Evaluation: privacy and utility of every variant's protected photos, per
# variant and scenario one job per model job's shards (models loaded once per
# job; CenterFace, dlib and image metrics in a pool over its threads), with
# tables per shard, then tables of
# per-image rows, per-face rows (with rank-1 re-identification against the
# run's own faces, which needs every shard's faces at once) and per-variant
# aggregates under results/metrics/.


METRICS_SHARD_TABLE = "results/metrics/shards/{variant}/{scenario}/{shard}.{kind}"  # kind: csv, faces.parquet
METRICS_TABLES = {
    f"{table}_{kind}": f"results/metrics/{table}.{kind}"
    for table in ("images", "faces", "variants")
    for kind in ("parquet", "csv")
}


for variant, cfg in VARIANTS.items():
    masks_npz = scoped(MASKS_OUTPUTS["npz"], STAGE_GROUPS["masks"][variant])
    for scenario in ("scenario1", "scenario2"):
        scenario_inputs = {"masks_npz": masks_npz} if scenario == "scenario1" else {}
        for job, shards in model_jobs("evaluate").items():

            rule:
                name:
                    rule_name(f"evaluate_{scenario}", job, variant)
                input:
                    images=[shard_index("images", shard) for shard in shards],
                    detections=model_indexes("detect", shards),
                    captions=model_indexes("caption", shards),
                    language=model_indexes("language", shards),
                    protected=[shard_index(f"render_{scenario}", shard, variant) for shard in shards],
                    masks=[scoped(shard_index("masks", shard), STAGE_GROUPS["masks"][variant]) for shard in shards]
                    if scenario == "scenario1"
                    else [],
                    **{name: plugin_model(models)[0] for name, models in stage_params.evaluate_models(config).items()},
                    after_fakes=after_model_jobs(["fakes"], shards, STAGE_GROUPS["fakes"][variant])
                    if scenario == "scenario2"
                    else [],
                output:
                    table=[METRICS_SHARD_TABLE.format(variant=variant, scenario=scenario, shard=shard, kind="csv") for shard in shards],
                    faces=[METRICS_SHARD_TABLE.format(variant=variant, scenario=scenario, shard=shard, kind="faces.parquet") for shard in shards],
                log:
                    f"results/logs/evaluate_{scenario}/{variant}/{job}.log",
                benchmark:
                    f"results/benchmarks/evaluate_{scenario}/{variant}/{job}.tsv"
                params:
                    stage=stage_params.evaluate(cfg, scenario),
                    files={
                        "detect_json": DETECT_OUTPUTS["json"],
                        "caption_json": CAPTION_OUTPUTS["json"],
                        "language_json": LANGUAGE_OUTPUT,
                        "png": final_output(scenario, "png", variant),
                        "decisions": final_output(scenario, "decisions", variant),
                        **scenario_inputs,
                    },
                threads: job_threads("evaluate")
                resources:
                    **job_resources("evaluate"),
                conda:
                    "../../envs/models.yaml"
                script:
                    "../../scripts/evaluate.py"


rule metrics:
    input:
        models=after_every_model_job,
        tables=[
            METRICS_SHARD_TABLE.format(variant=variant, scenario=scenario, shard=shard, kind="csv")
            for variant in VARIANTS
            for scenario in ("scenario1", "scenario2")
            for shard in stage_shards("evaluate")
        ],
        faces=[
            METRICS_SHARD_TABLE.format(variant=variant, scenario=scenario, shard=shard, kind="faces.parquet")
            for variant in VARIANTS
            for scenario in ("scenario1", "scenario2")
            for shard in stage_shards("evaluate")
        ],
    output:
        images_parquet=METRICS_TABLES["images_parquet"],
        images_csv=METRICS_TABLES["images_csv"],
        faces_parquet=METRICS_TABLES["faces_parquet"],
        faces_csv=METRICS_TABLES["faces_csv"],
        variants_parquet=METRICS_TABLES["variants_parquet"],
        variants_csv=report(METRICS_TABLES["variants_csv"], caption="../../report/metrics.rst", category="Metrics"),
    log:
        "results/logs/metrics/metrics.log",
    benchmark:
        "results/benchmarks/metrics/metrics.tsv"
    conda:
        "../../envs/models.yaml"
    script:
        "../../scripts/aggregate_metrics.py"
