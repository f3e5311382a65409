# Models are inputs: pretrained weights are fetched into resources/ (pinned
# revision, SHA-256 manifest); the offline profile builds random models of
# the same classes instead. Inference reads only these local folders. Where
# they are and model_manifest, the model input of the stages: common.smk.


# One rule makes every family's folder: fetch_model downloads a pinned revision (a local
# rule: downloads need the internet, which compute nodes often lack) and build_offline_model
# builds random weights for the offline profile (models.families.MODEL_FAMILIES). A folder
# whose manifest lists a file that is gone (deleted by hand) is made again by its family's
# restore_model_<family> rule, which declares the missing files (rule all and rule protect ask
# for them: model_manifest in common.smk) while the first rule leaves that folder alone. Both
# come from the one block below, so Snakemake records the same code and params for what either
# makes, and a restored folder reruns nothing later. `update` keeps the manifest in place while
# the job runs and puts it back if the job fails: a manifest deleted with a failed job would
# make every stage that uses the model rerun.
MODEL_RULE = "build_offline_model" if config["offline"] else "fetch_model"
MODEL_JOB_NAME = "offline-{family}-{size}" if config["offline"] else "hub-{family}"
MODEL_RULE_PARAMS = (
    {"seed": config["models"]["offline_seed"], "version": STAGE_VERSIONS["offline_model"]}
    if config["offline"]
    else {"spec": lambda wildcards: config["models"][wildcards.family]}
)

for family in (None, *RESTORED_FAMILIES):

    rule:
        name:
            MODEL_RULE if family is None else f"restore_model_{family}"
        output:
            **model_folder_outputs(family),
        wildcard_constraints:
            **model_folder_constraints(family),
        localrule: not config["offline"]
        log:
            f"results/logs/models/{MODEL_JOB_NAME}.log",
        benchmark:
            f"results/benchmarks/models/{MODEL_JOB_NAME}.tsv"
        params:
            **MODEL_RULE_PARAMS,
        conda:
            "../../envs/models.yaml"
        script:
            f"../../scripts/{MODEL_RULE}.py"
