# Scenario 2, major persons: faces inside their boxes (CenterFace or Haar), then
# one generated replacement face per found face. Generated faces are kept as
# artifacts so that rendering settings can change without generating again.
# Sweep variants whose persons, faces or fakes settings differ get their own.

FACES_OUTPUT = "results/faces/{image_id}.json"
FAKES_OUTPUT = "results/fakes/{image_id}.npz"

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
                stage=faces_params(VARIANTS[group]),
                files={"persons_json": persons_pattern, "json": output_pattern},
                max_image_pixels=config["execution"]["max_image_pixels"],
            threads: 2
            conda:
                "../../envs/models.yaml"
            script:
                "../../scripts/faces.py"


for group in stage_groups("fakes"):
    faces_pattern = scoped(FACES_OUTPUT, STAGE_GROUPS["faces"][group])
    output_pattern = scoped(FAKES_OUTPUT, group)
    diffusion = VARIANTS[group]["fakes"]["generator"] == "diffusion"  # donors and none need no GPU
    for job, shards in MODEL_JOBS.items():

        checkpoint:
            name:
                rule_name("fakes", job, group)
            input:
                images=[shard_index("images", shard) for shard in shards],
                faces=[scoped(shard_index("faces", shard), STAGE_GROUPS["faces"][group]) for shard in shards],
                model=fakes_model_input(VARIANTS[group]),
            output:
                **job_outputs(lambda shard: scoped(shard_index("fakes", shard), group), shards, {"npz": output_pattern}),
            log:
                scoped(f"results/logs/fakes/{job}.log", group),
            benchmark:
                scoped(f"results/benchmarks/fakes/{job}.tsv", group)
            params:
                stage=fakes_params(VARIANTS[group]),
                files={"faces_json": faces_pattern, "npz": output_pattern},
            threads: job_threads("fakes")
            resources:
                mem_mb=job_resources("fakes")["mem_mb"],
                runtime=job_resources("fakes")["runtime"],
                gpu=job_resources("fakes")["gpu"] if diffusion else 0,
                **partition_resource("fakes", applies=diffusion),
            conda:
                "../../envs/models.yaml"
            script:
                "../../scripts/fakes.py"
