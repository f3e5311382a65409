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
            png=shard_outputs(shard, final_output("scenario2", "png")),
            decisions=shard_outputs(shard, final_output("scenario2", "decisions")),
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
                    "png": final_output("scenario2", "png"),
                    "decisions": final_output("scenario2", "decisions"),
                },
            ),
        conda:
            "../../envs/models.yaml"
        script:
            "../../scripts/render_scenario2.py"


# Scenario 1: the union of the enabled mask components hidden by the chosen method.
for shard in SHARDS:

    rule:
        name:
            f"render_scenario1_{shard}"
        input:
            images=[str(IMAGES[image_id]) for image_id in SHARDS[shard]],
            masks=shard_outputs(shard, MASKS_OUTPUTS["npz"]),
            records=shard_outputs(shard, MASKS_OUTPUTS["json"]),
        output:
            png=shard_outputs(shard, final_output("scenario1", "png")),
            decisions=shard_outputs(shard, final_output("scenario1", "decisions")),
        log:
            f"results/logs/render_scenario1/{config['variant']}/{shard}.log",
        benchmark:
            f"results/benchmarks/render_scenario1/{config['variant']}/{shard}.tsv"
        params:
            stage=render_scenario1_params(),
            images=shard_items(
                shard,
                {
                    "masks_npz": MASKS_OUTPUTS["npz"],
                    "masks_json": MASKS_OUTPUTS["json"],
                    "png": final_output("scenario1", "png"),
                    "decisions": final_output("scenario1", "decisions"),
                },
            ),
        conda:
            "../../envs/models.yaml"
        script:
            "../../scripts/render_scenario1.py"
