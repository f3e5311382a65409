# Scenario 1 rendering, one set per variant under results/final/<variant>/scenario1/:
# the union of the enabled mask components hidden by the chosen method
# (render.scenario1.method), each person's pixels at the strength of its face (the
# persons and faces stages find them); one decision log per image.


for variant, cfg in VARIANTS.items():
    masks_outputs = {key: scoped(pattern, STAGE_GROUPS["masks"][variant]) for key, pattern in MASKS_OUTPUTS.items()}
    persons_pattern = scoped(PERSONS_OUTPUT, STAGE_GROUPS["persons"][variant])
    faces_pattern = scoped(FACES_OUTPUT, STAGE_GROUPS["faces"][variant])
    for shard in stage_shards("render_scenario1"):

        rule:
            name:
                rule_name("render_scenario1", shard, variant)
            input:
                images=shard_index("images", shard),
                masks=scoped(shard_index("masks", shard), STAGE_GROUPS["masks"][variant]),
                persons=scoped(shard_index("persons", shard), STAGE_GROUPS["persons"][variant]),
                faces=scoped(shard_index("faces", shard), STAGE_GROUPS["faces"][variant]),
                models=after_model_jobs(SCENE_MODELS, [shard]),
            output:
                **shard_job_outputs(
                    shard_index("render_scenario1", shard, variant),
                    shard,
                    {kind: final_output("scenario1", kind, variant) for kind in ("png", "decisions")},
                ),
            log:
                f"results/logs/render_scenario1/{variant}/{shard}.log",
            benchmark:
                f"results/benchmarks/render_scenario1/{variant}/{shard}.tsv"
            params:
                stage=stage_params.render_scenario1(cfg),
                files={
                    "masks_npz": masks_outputs["npz"],
                    "masks_json": masks_outputs["json"],
                    "persons_json": persons_pattern,
                    "faces_json": faces_pattern,
                    "png": final_output("scenario1", "png", variant),
                    "decisions": final_output("scenario1", "decisions", variant),
                },
            conda:
                "../../envs/models.yaml"
            script:
                "../../scripts/render_scenario1.py"
