# Privacy protection for photos that show several people.
# The table of contents: configuration, one include per stage (in the order the
# data flows: a file reads only patterns declared above it), the target lists.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/images.smk"
include: "workflow/rules/detect.smk"
include: "workflow/rules/caption.smk"
include: "workflow/rules/language.smk"
include: "workflow/rules/relations.smk"
include: "workflow/rules/scene.smk"
include: "workflow/rules/masks.smk"
include: "workflow/rules/persons.smk"
include: "workflow/rules/faces.smk"
include: "workflow/rules/fakes.smk"
include: "workflow/rules/render_scenario1.smk"
include: "workflow/rules/render_scenario2.smk"
include: "workflow/rules/video.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/targets.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/summary.smk"
include: "workflow/rules/by_name.smk"


rule all:
    input:
        get_final_outputs(),
    default_target: True


# The protected photos only: no evaluation, no figures.
rule protect:
    input:
        protected_outputs(),
