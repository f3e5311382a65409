"""Stage versions: bump a stage's number when its logic changes.

The workflow puts these in each rule's ``params``, so Snakemake reruns a stage
(and what follows) after a change to library code it cannot see.
"""

STAGE_VERSIONS = {
    "offline_model": 2,  # the random builders in models/families.py
    "detect": 2,
    "persons": 2,  # 2: notebook ties at the cut-off go to the later detection
    "faces": 2,
    "fakes": 1,
    "render_scenario2": 2,
    "caption": 1,
    "language": 1,
    "relations": 1,
    "scene": 2,  # 2: preprocessing from the model (scene.preprocessing), relevance methods
    "masks": 1,
    "render_scenario1": 3,  # 3: resize works at that size (masks, obfuscation, output)
    "evaluate": 3,  # 3: scenario 1 masks at the renderer's working size
    "figures": 1,
}
