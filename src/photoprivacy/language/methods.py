"""The language methods language.method names: a builder each, from the language stage's
params and the model folder (None for a method without one), of
``analyse(caption) -> {w1, w2, evidence, reason}``."""

import logging

from ..registry import Registry
from .spacy_model import resolve_model

LANGUAGE_METHODS = Registry("language method", "language.method")
_log = logging.getLogger(__name__)


@LANGUAGE_METHODS.register("dependency", keys=("spacy_model",), resolve={"spacy_model": resolve_model})
def dependency(params, model_dir):
    from .dependency import analyse_caption
    from .spacy_model import load_english

    planned = params["spacy_model"]
    nlp = load_english(planned["name"])
    _log.info("spaCy model %s %s", planned["name"], nlp.meta.get("version"))
    if nlp.meta.get("version") != planned["version"]:
        raise RuntimeError(f"spaCy model {planned} was planned, version {nlp.meta.get('version')} "
                           "loaded: the installation changed during the run; run again")
    return lambda caption: analyse_caption(caption, nlp)


@LANGUAGE_METHODS.register("bert_attention", keys=("bert",), model="bert", device=True)
def bert_attention(params, model_dir):
    from ..devices import pick_device
    from .bert_attention import analyse_caption_bert, load_bert

    model, tokenizer = load_bert(model_dir, pick_device(params["device"]))
    _log.info("BERT on %s", next(model.parameters()).device)
    return lambda caption: analyse_caption_bert(caption, model, tokenizer, params["bert"])
