# An existing per-image file named on the command line (e.g. `snakemake
# results/detect/<id>.json`): a job that changes nothing and depends on the
# index of the shard job that wrote the file. Snakemake then checks that shard
# job as it checks any (parameters, code, inputs) and reruns it when needed.
# Declaring the file as the shard job's output instead would hide its changes:
# the file has no provenance record, and Snakemake skips those checks for a
# job with an output that lacks one. `update` keeps the file from being deleted.

for number, (path, index) in enumerate(sorted(NAMED_FILES.items())):

    rule:
        name:
            f"named_file_{number}"
        input:
            index=index,
        output:
            file=update(path),
        log:
            f"results/logs/named_file/{number}.log",
        localrule: True
        conda:
            "../../envs/models.yaml"
        shell:
            "echo '{output.file} is listed in {input.index}' > {log}"
