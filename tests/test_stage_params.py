"""What each stage's params hold (photoprivacy.stage_params): a plug-in's part comes from what
its registry entry declares, so each choice's params hold its own keys and none of another's."""

import copy

import pytest

from photoprivacy import stage_params
from photoprivacy.detection.detectors import OBJECT_DETECTORS
from photoprivacy.faces.generators import FACE_GENERATORS
from photoprivacy.registry import Registry
from photoprivacy.stages import STAGE_VERSIONS

from conftest import default_config


def config(**changes):
    """config.yaml with ``changes`` ({"fakes.generator": "donor"}) set."""
    cfg = copy.deepcopy(default_config())
    for path, value in changes.items():
        *parents, key = path.split(".")
        node = cfg
        for part in parents:
            node = node[part]
        node[key] = value
    return cfg


HUB_DETR = {"source": "hub", "id": "facebook/detr-resnet-50", "revision": "1d5f47bd3bdd2c4bbfa585418ffe6da5028b4c0b"}


def test_detector_params_hold_its_own_keys_its_execution_keys_and_its_model():
    assert stage_params.detect(config()) == {
        "version": STAGE_VERSIONS["detect"], "method": "detr", "threshold": 0.9, "short_side": 800, "max_side": None,
        "device": "auto", "half_precision": False, "weights": HUB_DETR, "batch_size": 4}
    annotations = config(**{"detect.method": "annotations", "detect.annotations": "boxes.json"})
    assert stage_params.detect(annotations) == {
        "version": STAGE_VERSIONS["detect"], "method": "annotations", "annotations": "boxes.json", "batch_size": 4}


def test_offline_models_are_named_by_family_size_and_seed():
    offline = config(offline=True)
    assert stage_params.detect(offline)["weights"] == {"source": "offline", "family": "detr", "size": "tiny", "seed": 0}
    assert stage_params.caption(offline)["weights"]["family"] == "captioner_blip"
    assert stage_params.caption(config(**{"caption.model": "vit_gpt2"}))["weights"]["id"] == (
        "nlpconnect/vit-gpt2-image-captioning")


def test_face_generator_params_follow_the_chosen_generator():
    seed = {"version": STAGE_VERSIONS["fakes"], "seed": 0}
    diffusion = stage_params.fakes(config())
    assert diffusion == {**seed, "generator": "diffusion", "steps": 50, "device": "auto", "batch_size": 4,
                         "half_precision": False, "weights": diffusion["weights"]}
    assert diffusion["weights"]["id"] == "Mou11209203/ddpm-celebahq-256"
    donor = config(**{"fakes.generator": "donor", "fakes.donor_folder": "donors"})
    assert stage_params.fakes(donor) == {**seed, "generator": "donor", "donor_folder": "donors",
                                         "max_image_pixels": 178956970}
    assert stage_params.fakes(config(**{"fakes.generator": "none"})) == {**seed, "generator": "none"}


def test_face_detector_and_language_params_hold_only_the_chosen_ones_keys():
    assert stage_params.faces(config()) == {"version": STAGE_VERSIONS["faces"], "detector": "centerface",
                                            "threshold": 0.5, "max_side": 1280}
    assert stage_params.faces(config(**{"faces.detector": "haar"})) == {
        "version": STAGE_VERSIONS["faces"], "detector": "haar", "haar_growth": 15, "max_side": 1280}
    bert = stage_params.language(config(**{"language.method": "bert_attention"}))
    assert bert == {"version": STAGE_VERSIONS["language"], "method": "bert_attention",
                    "bert": {"index_base": 1, "threshold": 0.1}, "device": "auto", "weights": bert["weights"]}


def test_a_key_the_chosen_plugin_ignores_changes_no_params():
    base = config(**{"fakes.generator": "none"})
    assert stage_params.fakes(base) == stage_params.fakes(config(**{"fakes.generator": "none", "fakes.steps": 9}))
    assert stage_params.detect(config()) == stage_params.detect(config(**{"detect.annotations": "other.json"}))
    assert stage_params.scene(config()) == stage_params.scene(config(**{"scene.train_steps": 9}))


def test_a_choice_missing_a_required_key_names_it_and_an_unknown_one_lists_the_choices():
    with pytest.raises(ValueError, match=r"^config key sweep.variants.x.fakes.donor_folder: required when "
                                         r"fakes.generator is 'donor'$"):
        FACE_GENERATORS.chosen(config(**{"fakes.generator": "donor"}), "sweep.variants.x.")
    with pytest.raises(ValueError, match=r"^unknown object detector 'yolo' \(config key detect.method: one of "
                                         r"detr, annotations\)$"):
        stage_params.detect(config(**{"detect.method": "yolo"}))


def test_evaluation_runs_the_detector_only_when_it_has_a_model():
    assert set(stage_params.evaluate_models(config())) == {"detector", "captioner"}
    annotations = config(**{"detect.method": "annotations", "detect.annotations": "boxes.json"})
    assert set(stage_params.evaluate_models(annotations)) == {"captioner"}
    params = stage_params.evaluate(config(), "scenario1")
    assert params["detector"] == {key: value for key, value in stage_params.detect(config()).items()
                                  if key != "batch_size"}
    assert params["captioner"]["model"] == "blip" and params["render"] == {
        "components": ["persons", "objects", "w1", "w2", "scene"], "clean_kernel": 5}
    assert "detector" not in stage_params.evaluate(annotations, "scenario2")


def test_an_entry_declares_keys_execution_model_device_and_resolved_values():
    widgets = Registry("widget", "things.widget")
    widgets.register("big", keys=("size",), execution=("batch_size",), model="detr", device=True,
                     resolve={"size": lambda value: value * 2})(object)
    widgets.declare("small", "builtins:dict", keys=("colour",), files=("colour",))
    cfg = {"things": {"widget": "big", "size": 3, "colour": "red", "shared": 1},
           "execution": {"device": "cpu", "batch_size": 2, "half_precision": False}}
    assert widgets.settings(cfg) == {"widget": "big", "size": 6, "shared": 1}
    assert widgets.execution(cfg) == {"device": "cpu", "batch_size": 2}
    small = {**cfg, "things": {**cfg["things"], "widget": "small"}}
    assert widgets.settings(small) == {"widget": "small", "colour": "red", "shared": 1}
    assert widgets.execution(small) == {} and widgets.files(small) == ["red"]
    assert widgets["small"] is dict and widgets.chosen(cfg).model == "detr" and widgets.chosen(small).model is None
    assert OBJECT_DETECTORS.chosen(config()).device
