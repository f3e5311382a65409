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
                images=[str(IMAGES[image_id]) for image_id in SHARDS[shard]],
                persons=shard_outputs(shard, persons_pattern),
                faces=shard_outputs(shard, faces_pattern),
                fakes=shard_outputs(shard, fakes_pattern),
            output:
                png=shard_outputs(shard, final_output("scenario2", "png", variant)),
                decisions=shard_outputs(shard, final_output("scenario2", "decisions", variant)),
            log:
                f"results/logs/render_scenario2/{variant}/{shard}.log",
            benchmark:
                f"results/benchmarks/render_scenario2/{variant}/{shard}.tsv"
            params:
                stage=render_scenario2_params(cfg),
                images=shard_items(
                    shard,
                    {
                        "persons_json": persons_pattern,
                        "faces_json": faces_pattern,
                        "fakes_npz": fakes_pattern,
                        "png": final_output("scenario2", "png", variant),
                        "decisions": final_output("scenario2", "decisions", variant),
                    },
                ),
            conda:
                "../../envs/models.yaml"
            script:
                "../../scripts/render_scenario2.py"


# Scenario 1: the union of the enabled mask components hidden by the chosen method.
for variant, cfg in VARIANTS.items():
    masks_outputs = {key: scoped(pattern, STAGE_GROUPS["masks"][variant]) for key, pattern in MASKS_OUTPUTS.items()}
    for shard in SHARDS:

        rule:
            name:
                rule_name("render_scenario1", shard, variant)
            input:
                images=[str(IMAGES[image_id]) for image_id in SHARDS[shard]],
                masks=shard_outputs(shard, masks_outputs["npz"]),
                records=shard_outputs(shard, masks_outputs["json"]),
            output:
                png=shard_outputs(shard, final_output("scenario1", "png", variant)),
                decisions=shard_outputs(shard, final_output("scenario1", "decisions", variant)),
            log:
                f"results/logs/render_scenario1/{variant}/{shard}.log",
            benchmark:
                f"results/benchmarks/render_scenario1/{variant}/{shard}.tsv"
            params:
                stage=render_scenario1_params(cfg),
                images=shard_items(
                    shard,
                    {
                        "masks_npz": masks_outputs["npz"],
                        "masks_json": masks_outputs["json"],
                        "png": final_output("scenario1", "png", variant),
                        "decisions": final_output("scenario1", "decisions", variant),
                    },
                ),
            conda:
                "../../envs/models.yaml"
            script:
                "../../scripts/render_scenario1.py"
