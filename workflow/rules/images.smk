# Intake: one small job per shard lists its photos (id, path, relpath, size,
# modification time). The photos are its inputs, so an edited, added or removed
# photo reruns its own shard only; every other shard job reads its images from
# this index.

for shard in SHARDS:

    rule:
        name:
            rule_name("images", shard)
        input:
            images=shard_image_inputs(shard),
        output:
            index=shard_index("images", shard),
        log:
            f"results/logs/images/{shard}.log",
        params:
            images=[IMAGE_ITEMS[image_id] for image_id in SHARDS[shard]],
        localrule: True
        conda:
            "../../envs/models.yaml"
        script:
            # a script, not `run:`: Snakemake runs `run:` jobs in a new process that
            # parses the whole workflow again (seconds per job with 100,000 photos)
            "../../scripts/list_images.py"
