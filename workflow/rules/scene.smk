# Scenario 1, scene: a ViT scene classifier and its relevance map (Chefer et
# al.) per image. With scene.train_images set, rule train_scene first
# fine-tunes the classifier on that ImageFolder and the scene stage uses it.

SCENE_OUTPUTS = {
    "json": "results/scene/{image_id}.json",
    "npz": "results/scene/{image_id}.npz",
}
TRAINED_SCENE_MANIFEST = f"{MODELS_DIR}/trained/scene_classifier/manifest.json"


rule train_scene:
    input:
        images=config["scene"]["train_images"] or [],
        base=model_manifest("scene_classifier"),
    output:
        manifest=TRAINED_SCENE_MANIFEST,
    log:
        "results/logs/train_scene.log",
    benchmark:
        "results/benchmarks/train_scene.tsv"
    params:
        stage=stage_params.train_scene(config),
        max_image_pixels=config["execution"]["max_image_pixels"],
    threads: 2
    conda:
        "../../envs/models.yaml"
    script:
        "../../scripts/train_scene.py"


for job, shards in model_jobs("scene").items():

    checkpoint:
        name:
            rule_name("scene", job)
        input:
            images=[shard_index("images", shard) for shard in shards],
            # the fine-tuned classifier when scene.train_images is set, else the pretrained one
            model=TRAINED_SCENE_MANIFEST if config["scene"]["train_images"] else model_manifest("scene_classifier"),
        output:
            **job_outputs(functools.partial(shard_index, "scene"), shards, SCENE_OUTPUTS),
        log:
            f"results/logs/scene/{job}.log",
        benchmark:
            f"results/benchmarks/scene/{job}.tsv"
        params:
            stage=stage_params.scene(config),
            files=SCENE_OUTPUTS,
            max_image_pixels=config["execution"]["max_image_pixels"],
        threads: job_threads("scene")
        resources:
            **job_resources("scene"),
        conda:
            "../../envs/models.yaml"
        script:
            "../../scripts/scene.py"
