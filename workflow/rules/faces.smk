# Scenario 2, major persons: faces inside their boxes (faces.detector: CenterFace
# or Haar). Sweep variants whose persons or faces settings differ get their own.

FACES_OUTPUT = "results/faces/{image_id}.json"


share_stage("faces", lambda cfg: [stage_params.persons(cfg), stage_params.faces(cfg)])

for group in stage_groups("faces"):
    persons_pattern = scoped(PERSONS_OUTPUT, STAGE_GROUPS["persons"][group])
    output_pattern = scoped(FACES_OUTPUT, group)
    for shard in SHARDS:

        rule:
            name:
                rule_name("faces", shard, group)
            input:
                images=shard_index("images", shard),
                persons=scoped(shard_index("persons", shard), STAGE_GROUPS["persons"][group]),
                models=after_model_jobs(["detect"], [shard]),
            output:
                **shard_job_outputs(scoped(shard_index("faces", shard), group), shard, {"json": output_pattern}),
            log:
                scoped(f"results/logs/faces/{shard}.log", group),
            benchmark:
                scoped(f"results/benchmarks/faces/{shard}.tsv", group)
            params:
                stage=stage_params.faces(VARIANTS[group]),
                files={"persons_json": persons_pattern, "json": output_pattern},
                max_image_pixels=config["execution"]["max_image_pixels"],
            threads: 2
            conda:
                "../../envs/models.yaml"
            script:
                "../../scripts/faces.py"
