# Intake: one small job per shard lists its photos (id, path, relpath, size,
# modification time). The photos are its inputs, so an edited, added or removed
# photo reruns its own shard only; every other shard job reads its images from
# this index.

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
            images=[IMAGE_ITEMS[image_id] for image_id in SHARDS[shard]],
        localrule: True
        run:
            write_image_index(output.index, params.images)
            Path(log[0]).write_text(f"{len(params.images)} images listed\n")
