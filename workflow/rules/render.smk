# Rendering of the protected photos, one set per variant (the base and each
# sweep variant) under results/final/<variant>/. Scenario 2: minor persons
# obfuscated, major persons' faces replaced; one decision log per image.

for variant, cfg in VARIANTS.items():
    persons_pattern = scoped(PERSONS_OUTPUT, STAGE_GROUPS["persons"][variant])
    faces_pattern = scoped(FACES_OUTPUT, STAGE_GROUPS["faces"][variant])
    fakes_pattern = scoped(FAKES_OUTPUT, STAGE_GROUPS["fakes"][variant])
    for shard in SHARDS:

        rule:
            name:
                rule_name("render_scenario2", shard, variant)
            input:
                images=shard_index("images", shard),
                persons=scoped(shard_index("persons", shard), STAGE_GROUPS["persons"][variant]),
                faces=scoped(shard_index("faces", shard), STAGE_GROUPS["faces"][variant]),
                fakes=model_indexes("fakes", [shard], STAGE_GROUPS["fakes"][variant]),
            output:
                **shard_job_outputs(
                    shard_index("render_scenario2", shard, variant),
                    shard,
                    {kind: final_output("scenario2", kind, variant) for kind in ("png", "decisions")},
                ),
            log:
                f"results/logs/render_scenario2/{variant}/{shard}.log",
            benchmark:
                f"results/benchmarks/render_scenario2/{variant}/{shard}.tsv"
            params:
                stage=render_scenario2_params(cfg),
                files={
                    "persons_json": persons_pattern,
                    "faces_json": faces_pattern,
                    "fakes_npz": fakes_pattern,
                    "png": final_output("scenario2", "png", variant),
                    "decisions": final_output("scenario2", "decisions", variant),
                },
            conda:
                "../../envs/models.yaml"
            script:
                "../../scripts/render_scenario2.py"


# Scenario 1: the union of the enabled mask components hidden by the chosen method, each
# person's pixels at the strength of its face (the persons and faces stages find them).
for variant, cfg in VARIANTS.items():
    masks_outputs = {key: scoped(pattern, STAGE_GROUPS["masks"][variant]) for key, pattern in MASKS_OUTPUTS.items()}
    persons_pattern = scoped(PERSONS_OUTPUT, STAGE_GROUPS["persons"][variant])
    faces_pattern = scoped(FACES_OUTPUT, STAGE_GROUPS["faces"][variant])
    for shard in SHARDS:

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
                stage=render_scenario1_params(cfg),
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
