# Scenario 2, major persons: faces inside their boxes (CenterFace or Haar), then
# one generated replacement face per found face. Generated faces are kept as
# artifacts so that rendering settings can change without generating again.

FACES_OUTPUT = "results/faces/{image_id}.json"
FAKES_OUTPUT = "results/fakes/{image_id}.npz"

for shard in SHARDS:

    rule:
        name:
            f"faces_{shard}"
        input:
            images=[str(IMAGES[image_id]) for image_id in SHARDS[shard]],
            persons=shard_outputs(shard, PERSONS_OUTPUT),
        output:
            json=shard_outputs(shard, FACES_OUTPUT),
        log:
            f"results/logs/faces/{shard}.log",
        benchmark:
            f"results/benchmarks/faces/{shard}.tsv"
        params:
            stage=faces_params(),
            images=shard_items(shard, {"persons_json": PERSONS_OUTPUT, "json": FACES_OUTPUT}),
            max_image_pixels=config["execution"]["max_image_pixels"],
        threads: 2
        conda:
            "../../envs/models.yaml"
        script:
            "../../scripts/faces.py"

    rule:
        name:
            f"fakes_{shard}"
        input:
            faces=shard_outputs(shard, FACES_OUTPUT),
            model=fakes_model_input(),
        output:
            npz=shard_outputs(shard, FAKES_OUTPUT),
        log:
            f"results/logs/fakes/{shard}.log",
        benchmark:
            f"results/benchmarks/fakes/{shard}.tsv"
        params:
            stage=fakes_params(),
            images=shard_items(shard, {"faces_json": FACES_OUTPUT, "npz": FAKES_OUTPUT}),
        threads: 2
        resources:
            mem_mb=job_resources("fakes")["mem_mb"],
            runtime=job_resources("fakes")["runtime"],
            gpu=job_resources("fakes")["gpu"],
        conda:
            "../../envs/models.yaml"
        script:
            "../../scripts/fakes.py"
