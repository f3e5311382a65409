"""Privacy protection for photos of several people: the library behind the workflow.

The library never imports Snakemake: every stage is a plain function that the
workflow's scripts call and the tests call directly.
"""

__version__ = "0.1.0"
