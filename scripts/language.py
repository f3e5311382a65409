"""Rule language_<shard>: action (w1) and scene (w2) words of each caption."""

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # models are local files

from photoprivacy.joblog import log_to_file
from photoprivacy.language.stage import run_language_shard
from photoprivacy.shard_index import shard_items, write_shard_index

log = log_to_file(snakemake.log[0])
items = shard_items(snakemake.input.images, snakemake.params.files)
stage = snakemake.params.stage

if stage["method"] == "dependency":
    from photoprivacy.language.dependency import analyse_caption
    from photoprivacy.language.spacy_model import load_english

    nlp = load_english(stage["spacy_model"]["name"])
    log.info("spaCy model %s %s", stage["spacy_model"]["name"], nlp.meta.get("version"))
    if nlp.meta.get("version") != stage["spacy_model"]["version"]:
        raise RuntimeError(f"spaCy model {stage['spacy_model']} was planned, version {nlp.meta.get('version')} "
                           "loaded: the installation changed during the run; run again")

    def analyse(caption):
        return analyse_caption(caption, nlp)

else:
    import torch

    from photoprivacy.devices import pick_device
    from photoprivacy.language.bert_attention import analyse_caption_bert, load_bert

    torch.set_num_threads(snakemake.threads)
    model, tokenizer = load_bert(Path(snakemake.input.model[0]).parent,
                                 device=pick_device(snakemake.config["execution"]["device"]))
    log.info("BERT on %s", next(model.parameters()).device)
    rule = {"index_base": stage["index_base"], "threshold": stage["threshold"]}

    def analyse(caption):
        return analyse_caption_bert(caption, model, tokenizer, rule)


counts = run_language_shard(items, analyse, stage)
log.info("shard done (%s): %s", stage["method"], counts)
write_shard_index(snakemake.output.index, items, snakemake.output.keys())
