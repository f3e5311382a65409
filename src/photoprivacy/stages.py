"""Stage versions: bump a stage's number when its logic changes.

The workflow puts these in each rule's ``params``, so Snakemake reruns a stage
(and what follows) after a change to library code it cannot see.
"""

STAGE_VERSIONS = {
    "offline_model": 2,  # the random builders of models/offline (bump when their bytes change)
    "detect": 2,
    "persons": 2,  # 2: notebook ties at the cut-off go to the later detection
    "faces": 3,  # 3: faces of minor persons too (they size the obfuscation)
    "fakes": 1,
    "render_scenario2": 3,  # 3: strength per face (strength zones)
    "caption": 1,
    "language": 1,
    "relations": 1,
    "scene": 2,  # 2: preprocessing from the model (scene.preprocessing), relevance methods
    "masks": 1,
    "render_scenario1": 4,  # 4: strength per face (strength zones), not per mask component
    "evaluate": 4,  # 4: per-face rows (descriptors, flat-erase control, blocks across)
    "figures": 1,
    "video_intake": 1,  # a video's intake record (video/intake.py)
    "frames": 1,
    "tracks": 1,
    "render_video": 1,
    "encode_video": 1,
    "evaluate_video": 1,
}
