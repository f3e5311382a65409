"""Stage versions: bump a stage's number when its logic changes.

The workflow puts these in each rule's ``params``, so Snakemake reruns a stage
(and what follows) after a change to library code it cannot see.
"""

STAGE_VERSIONS = {
    "offline_model": 2,  # the random builders in models/families.py
    "detect": 1,
    "persons": 1,
    "faces": 1,
    "fakes": 1,
    "render_scenario2": 1,
    "caption": 1,
    "language": 1,
    "relations": 1,
    "scene": 1,
    "masks": 1,
    "render_scenario1": 1,
    "evaluate": 1,
    "figures": 1,
}
