# Rendering of the protected photos. Scenario 2: minor persons obfuscated,
# major persons' faces replaced; one decision log per image.

for shard in SHARDS:

    rule:
        name:
            f"render_scenario2_{shard}"
        input:
            images=[str(IMAGES[image_id]) for image_id in SHARDS[shard]],
            persons=shard_outputs(shard, PERSONS_OUTPUT),
            faces=shard_outputs(shard, FACES_OUTPUT),
            fakes=shard_outputs(shard, FAKES_OUTPUT),
        output:
            png=shard_outputs(shard, final_scenario2("png")),
            decisions=shard_outputs(shard, final_scenario2("decisions")),
        log:
            f"results/logs/render_scenario2/{config['variant']}/{shard}.log",
        benchmark:
            f"results/benchmarks/render_scenario2/{config['variant']}/{shard}.tsv"
        params:
            stage=render_scenario2_params(),
            images=shard_items(
                shard,
                {
                    "persons_json": PERSONS_OUTPUT,
                    "faces_json": FACES_OUTPUT,
                    "fakes_npz": FAKES_OUTPUT,
                    "png": final_scenario2("png"),
                    "decisions": final_scenario2("decisions"),
                },
            ),
        conda:
            "../../envs/models.yaml"
        script:
            "../../scripts/render_scenario2.py"
