# Figures (matplotlib, deterministic PNG and PDF): a panel per selected image
# from the base variant's artifacts, and privacy versus utility per variant.
# `snakemake --report report.html` collects them with the captions in report/.


rule figure_panel:
    input:
        image=lambda wildcards: str(IMAGES[wildcards.image_id]),
        indexes=panel_indexes,
    output:
        png=report(
            "results/figures/panels/{image_id}.png",
            caption="../../report/panel.rst",
            category="Per-image panels",
            labels={"image": "{image_id}"},
        ),
        pdf="results/figures/panels/{image_id}.pdf",
    log:
        "results/logs/figure_panel/{image_id}.log",
    benchmark:
        "results/benchmarks/figure_panel/{image_id}.tsv"
    params:
        version=STAGE_VERSIONS["figures"],
        variant=BASE_VARIANT,
        files=panel_files,
        max_image_pixels=config["execution"]["max_image_pixels"],
    conda:
        "../../envs/models.yaml"
    script:
        "../../scripts/figure_panel.py"


rule figure_sweep:
    input:
        variants=METRICS_TABLES["variants_csv"],
        models=after_every_model_job,
    output:
        png=report(
            SWEEP_FIGURE.format(ext="png"),
            caption="../../report/sweep.rst",
            category="Sweep",
            labels={"figure": "privacy versus utility"},
        ),
        pdf=SWEEP_FIGURE.format(ext="pdf"),
    log:
        "results/logs/figure_sweep/privacy_utility.log",
    benchmark:
        "results/benchmarks/figure_sweep/privacy_utility.tsv"
    params:
        version=STAGE_VERSIONS["figures"],
    conda:
        "../../envs/models.yaml"
    script:
        "../../scripts/figure_sweep.py"
