# Scenario 2, replacement faces: one generated face per found face of a major
# person (fakes.generator). Generated faces are kept as artifacts so that
# rendering settings can change without generating again. Sweep variants whose
# persons, faces or fakes settings differ get their own.

FAKES_OUTPUT = "results/fakes/{image_id}.npz"


share_stage("fakes", lambda cfg: [stage_params.persons(cfg), stage_params.faces(cfg), stage_params.fakes(cfg)])

for group in stage_groups("fakes"):
    faces_pattern = scoped(FACES_OUTPUT, STAGE_GROUPS["faces"][group])
    output_pattern = scoped(FAKES_OUTPUT, group)
    for job, shards in model_jobs("fakes").items():

        checkpoint:
            name:
                rule_name("fakes", job, group)
            input:
                images=[shard_index("images", shard) for shard in shards],
                faces=[scoped(shard_index("faces", shard), STAGE_GROUPS["faces"][group]) for shard in shards],
                model=plugin_model(FACE_GENERATORS, VARIANTS[group]),
            output:
                **job_outputs(lambda shard: scoped(shard_index("fakes", shard), group), shards, {"npz": output_pattern}),
            log:
                scoped(f"results/logs/fakes/{job}.log", group),
            benchmark:
                scoped(f"results/benchmarks/fakes/{job}.tsv", group)
            params:
                stage=stage_params.fakes(VARIANTS[group]),
                files={"faces_json": faces_pattern, "npz": output_pattern},
            threads: job_threads("fakes")
            resources:
                **job_resources("fakes", on_device(FACE_GENERATORS, VARIANTS[group])),
            conda:
                "../../envs/models.yaml"
            script:
                "../../scripts/fakes.py"
