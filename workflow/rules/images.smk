# Intake: one small job per shard lists its photos. The photos are its inputs,
# so an edited photo reruns its own shard's stages only, and the model stages
# depend on this index instead of naming every photo again.

for shard in SHARDS:

    rule:
        name:
            f"images_{shard}"
        input:
            images=[IMAGE_ITEMS[image_id]["path"] for image_id in SHARDS[shard]],
        output:
            index=shard_index("images", shard),
        log:
            f"results/logs/images/{shard}.log",
        params:
            images=shard_items(shard, {}),
        localrule: True
        run:
            write_shard_index(output.index, params.images, ["path"])
            Path(log[0]).write_text(f"{len(params.images)} images listed\n")
