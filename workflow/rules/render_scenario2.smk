# Scenario 2 rendering, one set per variant (the base and each sweep variant)
# under results/final/<variant>/scenario2/: minor persons obfuscated
# (render.minor.method), major persons' faces replaced; one decision log per image.


for variant, cfg in VARIANTS.items():
    persons_pattern = scoped(PERSONS_OUTPUT, STAGE_GROUPS["persons"][variant])
    faces_pattern = scoped(FACES_OUTPUT, STAGE_GROUPS["faces"][variant])
    fakes_pattern = scoped(FAKES_OUTPUT, STAGE_GROUPS["fakes"][variant])
    for shard in stage_shards("render_scenario2"):

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
                stage=stage_params.render_scenario2(cfg),
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
