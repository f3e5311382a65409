# Videos: each video's frames are read into PNGs (rule frames_<video>), and the
# per-image stages run on them as on photos (their shards are listed in common.smk).
# Then, per video: person tracks with one role and one face each, one generated
# face per major track, each scenario's frames rendered from the tracks, the
# protected video encoded with the source's audio, and its privacy per frame.

TRACKS_OUTPUT = "results/tracks/{video_id}.json"
VIDEO_FAKES_OUTPUT = "results/fakes/videos/{video_id}.npz"
VIDEO_METRICS = "results/metrics/videos/{variant}/{scenario}/{video_id}.{kind}"  # kind: frames.csv, json
VIDEO_METRICS_TABLE = "results/metrics/videos.csv"


for video_id in VIDEOS:

    rule:
        name:
            rule_name("frames", video_id)
        input:
            video=VIDEO_FILES[video_id],
            record=video_record_path(video_id),
        output:
            frames=directory(FRAME_FOLDER.format(video_id=video_id)),
        log:
            f"results/logs/frames/{video_id}.log",
        benchmark:
            f"results/benchmarks/frames/{video_id}.tsv"
        params:
            step=VIDEO_STEP[video_id],
            version=STAGE_VERSIONS["frames"],
            max_image_pixels=config["execution"]["max_image_pixels"],
        conda:
            "../../envs/models.yaml"
        script:
            "../../scripts/frames.py"


share_stage("tracks", lambda cfg: [stage_params.persons(cfg), stage_params.faces(cfg), stage_params.tracks(cfg)])
share_stage("video_fakes", lambda cfg: [STAGE_GROUPS["tracks"][cfg["variant"]], stage_params.fakes(cfg)])

for group in stage_groups("tracks"):
    for video_id in VIDEOS:
        shards = list(VIDEO_SHARDS[video_id])

        rule:
            name:
                rule_name("tracks", video_id, group)
            input:
                record=video_record_path(video_id),
                persons=[scoped(shard_index("persons", shard), STAGE_GROUPS["persons"][group]) for shard in shards],
                faces=[scoped(shard_index("faces", shard), STAGE_GROUPS["faces"][group]) for shard in shards],
                models=after_model_jobs(["detect"], shards),
            output:
                json=scoped(TRACKS_OUTPUT.format(video_id=video_id), group),
            log:
                scoped(f"results/logs/tracks/{video_id}.log", group),
            benchmark:
                scoped(f"results/benchmarks/tracks/{video_id}.tsv", group)
            params:
                stage=stage_params.tracks(VARIANTS[group]),
                step=VIDEO_STEP[video_id],
                files={
                    "persons_json": scoped(PERSONS_OUTPUT, STAGE_GROUPS["persons"][group]),
                    "faces_json": scoped(FACES_OUTPUT, STAGE_GROUPS["faces"][group]),
                },
            conda:
                "../../envs/models.yaml"
            script:
                "../../scripts/tracks.py"


for group in stage_groups("video_fakes"):
    cfg = VARIANTS[group]
    for video_id in VIDEOS:

        rule:
            name:
                rule_name("fakes_video", video_id, group)
            input:
                tracks=scoped(TRACKS_OUTPUT.format(video_id=video_id), STAGE_GROUPS["tracks"][group]),
                model=plugin_model(FACE_GENERATORS, cfg),
            output:
                npz=scoped(VIDEO_FAKES_OUTPUT.format(video_id=video_id), group),
            log:
                scoped(f"results/logs/fakes_video/{video_id}.log", group),
            benchmark:
                scoped(f"results/benchmarks/fakes_video/{video_id}.tsv", group)
            params:
                stage=stage_params.fakes(cfg),
            threads: job_threads("fakes")
            resources:
                **job_resources("fakes", on_device(FACE_GENERATORS, cfg)),
            conda:
                "../../envs/models.yaml"
            script:
                "../../scripts/fakes_video.py"


for variant, cfg in VARIANTS.items():
    tracks_group = STAGE_GROUPS["tracks"][variant]
    for scenario in ("scenario1", "scenario2"):
        for video_id in VIDEOS:
            final = f"results/final/{variant}/{scenario}/{video_id}"
            frames_folder = directory(f"{final}.frames") if config["video"]["keep_frames"] else temp(
                directory(f"{final}.frames")
            )
            keyframe_shards = [shard for shard in VIDEO_SHARDS[video_id] if intake.is_keyframe_shard(video_id, shard)]
            keyframe_files = {  # what scenario 1 reads of a keyframe (KeyframeMasks)
                **{key: scoped(pattern, STAGE_GROUPS["masks"][variant]) for key, pattern in MASKS_OUTPUTS.items()},
                "detect_json": DETECT_OUTPUTS["json"],
                "relations_json": RELATIONS_OUTPUT,
            }
            scenario_inputs = (
                {
                    "fakes": scoped(VIDEO_FAKES_OUTPUT.format(video_id=video_id), STAGE_GROUPS["video_fakes"][variant]),
                }
                if scenario == "scenario2"
                else {
                    "masks": [scoped(shard_index("masks", shard), STAGE_GROUPS["masks"][variant]) for shard in keyframe_shards],
                    "models": after_model_jobs(SCENE_MODELS, keyframe_shards),
                }
            )

            rule:
                name:
                    rule_name(f"render_video_{scenario}", video_id, variant)
                input:
                    frames=FRAME_FOLDER.format(video_id=video_id),
                    tracks=scoped(TRACKS_OUTPUT.format(video_id=video_id), tracks_group),
                    **scenario_inputs,
                output:
                    frames=frames_folder,
                    decisions=f"{final}.decisions.jsonl",
                log:
                    f"results/logs/render_video_{scenario}/{variant}/{video_id}.log",
                benchmark:
                    f"results/benchmarks/render_video_{scenario}/{variant}/{video_id}.tsv"
                params:
                    stage=stage_params.render_video(cfg, scenario),
                    scenario=scenario,
                    masks=keyframe_files,
                conda:
                    "../../envs/models.yaml"
                script:
                    "../../scripts/render_video.py"

            rule:
                name:
                    rule_name(f"encode_video_{scenario}", video_id, variant)
                input:
                    frames=f"{final}.frames",
                    record=video_record_path(video_id),
                    video=VIDEO_FILES[video_id],
                output:
                    video=f"{final}.mp4",
                log:
                    f"results/logs/encode_video_{scenario}/{variant}/{video_id}.log",
                benchmark:
                    f"results/benchmarks/encode_video_{scenario}/{variant}/{video_id}.tsv"
                params:
                    stage=stage_params.encode_video(cfg),
                    step=VIDEO_STEP[video_id],
                threads: 2
                conda:
                    "../../envs/models.yaml"
                script:
                    "../../scripts/encode_video.py"

            rule:
                name:
                    rule_name(f"evaluate_video_{scenario}", video_id, variant)
                input:
                    originals=FRAME_FOLDER.format(video_id=video_id),
                    frames=f"{final}.frames",
                    decisions=f"{final}.decisions.jsonl",
                    tracks=scoped(TRACKS_OUTPUT.format(video_id=video_id), tracks_group),
                    video=f"{final}.mp4",
                    **{key: value for key, value in scenario_inputs.items() if key != "fakes"},
                output:
                    frames=VIDEO_METRICS.format(variant=variant, scenario=scenario, video_id=video_id, kind="frames.csv"),
                    summary=VIDEO_METRICS.format(variant=variant, scenario=scenario, video_id=video_id, kind="json"),
                log:
                    f"results/logs/evaluate_video_{scenario}/{variant}/{video_id}.log",
                benchmark:
                    f"results/benchmarks/evaluate_video_{scenario}/{variant}/{video_id}.tsv"
                params:
                    stage=stage_params.evaluate_video(cfg, scenario),
                    masks=keyframe_files,
                threads: job_threads("evaluate")
                resources:
                    **job_resources("evaluate", False),
                conda:
                    "../../envs/models.yaml"
                script:
                    "../../scripts/evaluate_video.py"


rule video_metrics:
    input:
        summaries=[
            VIDEO_METRICS.format(variant=variant, scenario=scenario, video_id=video_id, kind="json")
            for variant in VARIANTS
            for scenario in ("scenario1", "scenario2")
            for video_id in VIDEOS
        ],
    output:
        table=VIDEO_METRICS_TABLE,
    log:
        "results/logs/metrics/videos.log",
    localrule: True
    conda:
        "../../envs/models.yaml"
    script:
        "../../scripts/video_metrics.py"
