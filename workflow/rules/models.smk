# Models are inputs: pretrained weights are fetched into resources/ (pinned
# revision, SHA-256 manifest); the offline profile builds random models of
# the same classes instead. Inference reads only these local folders.
from photoprivacy.models.families import FAMILIES


# Local: downloads need the internet, which compute nodes often lack.
rule fetch_model:
    output:
        manifest=f"{MODELS_DIR}/hub/{{family}}/manifest.json",
    localrule: True
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


# A model folder whose manifest lists a file that is gone (deleted by hand) is made again
# by its family's restore_model_<family> rule: the rule above (`use rule` keeps its code and
# params, which Snakemake records and compares later) with the missing files as outputs,
# which rule all and rule protect ask for (model_manifest in common.smk). It matches no
# folder while nothing is missing. `update` keeps the manifest in place while the job runs
# and puts it back if the job fails: a manifest deleted with a failed job would make every
# stage that uses the model rerun. One block per family and kind (rules in a loop record
# different code, and `use rule` takes only literal names).
if config["offline"]:
    OFFLINE_SIZE = config["models"]["offline_size"]

    use rule build_offline_model as restore_model_detr with:
        output:
            **restore_outputs("detr"),
        wildcard_constraints:
            family=restore_family("detr"),
            size=OFFLINE_SIZE,

    use rule build_offline_model as restore_model_face_generator with:
        output:
            **restore_outputs("face_generator"),
        wildcard_constraints:
            family=restore_family("face_generator"),
            size=OFFLINE_SIZE,

    use rule build_offline_model as restore_model_captioner_vit_gpt2 with:
        output:
            **restore_outputs("captioner_vit_gpt2"),
        wildcard_constraints:
            family=restore_family("captioner_vit_gpt2"),
            size=OFFLINE_SIZE,

    use rule build_offline_model as restore_model_captioner_blip with:
        output:
            **restore_outputs("captioner_blip"),
        wildcard_constraints:
            family=restore_family("captioner_blip"),
            size=OFFLINE_SIZE,

    use rule build_offline_model as restore_model_bert with:
        output:
            **restore_outputs("bert"),
        wildcard_constraints:
            family=restore_family("bert"),
            size=OFFLINE_SIZE,

    use rule build_offline_model as restore_model_scene_classifier with:
        output:
            **restore_outputs("scene_classifier"),
        wildcard_constraints:
            family=restore_family("scene_classifier"),
            size=OFFLINE_SIZE,

    ruleorder: restore_model_detr > build_offline_model
    ruleorder: restore_model_face_generator > build_offline_model
    ruleorder: restore_model_captioner_vit_gpt2 > build_offline_model
    ruleorder: restore_model_captioner_blip > build_offline_model
    ruleorder: restore_model_bert > build_offline_model
    ruleorder: restore_model_scene_classifier > build_offline_model

else:

    use rule fetch_model as restore_model_detr with:
        output:
            **restore_outputs("detr"),
        wildcard_constraints:
            family=restore_family("detr"),

    use rule fetch_model as restore_model_face_generator with:
        output:
            **restore_outputs("face_generator"),
        wildcard_constraints:
            family=restore_family("face_generator"),

    use rule fetch_model as restore_model_captioner_vit_gpt2 with:
        output:
            **restore_outputs("captioner_vit_gpt2"),
        wildcard_constraints:
            family=restore_family("captioner_vit_gpt2"),

    use rule fetch_model as restore_model_captioner_blip with:
        output:
            **restore_outputs("captioner_blip"),
        wildcard_constraints:
            family=restore_family("captioner_blip"),

    use rule fetch_model as restore_model_bert with:
        output:
            **restore_outputs("bert"),
        wildcard_constraints:
            family=restore_family("bert"),

    use rule fetch_model as restore_model_scene_classifier with:
        output:
            **restore_outputs("scene_classifier"),
        wildcard_constraints:
            family=restore_family("scene_classifier"),

    ruleorder: restore_model_detr > fetch_model
    ruleorder: restore_model_face_generator > fetch_model
    ruleorder: restore_model_captioner_vit_gpt2 > fetch_model
    ruleorder: restore_model_captioner_blip > fetch_model
    ruleorder: restore_model_bert > fetch_model
    ruleorder: restore_model_scene_classifier > fetch_model


_without_restore = [family for family in FAMILIES if not rules.has(f"restore_model_{family}")]
if _without_restore:
    raise WorkflowError(f"rules/models.smk: add a restore_model_<family> block for {_without_restore}")
