"""Model jobs: shards grouped into few jobs, batches within a shard, reuse of unchanged shards."""

import json
from pathlib import Path

import pytest

from photoprivacy.model_jobs import ModelJob
from photoprivacy.pipeline import batches
from photoprivacy.samples import group_shards
from photoprivacy.shard_index import shard_items, write_image_index


def test_shards_are_split_into_runs_named_by_their_ends():
    shards = ["0001", "0004", "0007", "0009", "0012"]
    assert group_shards(shards, 1) == {"0001-0012": shards}
    assert group_shards(shards, 2) == {"0001-0004": ["0001", "0004"], "0007-0012": ["0007", "0009", "0012"]}
    assert group_shards(shards, 5) == {shard: [shard] for shard in shards}
    assert group_shards(shards, 64) == {shard: [shard] for shard in shards}  # no more jobs than shards


def test_a_batch_never_mixes_shards():
    items = [{"id": i, "shard": shard} for i, shard in enumerate(["a", "a", "a", "b", "c", "c", "c", "c", "c"])]
    assert [[item["id"] for item in batch] for batch in batches(items, 2)] == [[0, 1], [2], [3], [4, 5], [6, 7], [8]]
    assert [len(batch) for batch in batches(list(range(5)), 2)] == [2, 2, 1]  # no shards: plain chunks


class Project:
    """Two shards of two photos each, as rule images_<shard> lists them, and a stage that writes
    one JSON per image (its text from the params and the photo's bytes) and the shard indexes."""

    def __init__(self, tmp_path):
        self.root = tmp_path
        (tmp_path / "photos").mkdir()
        self.images = {}
        for shard, ids in {"0001": ["a", "b"], "0005": ["c", "d"]}.items():
            images = []
            for image_id in ids:
                path = tmp_path / "photos" / f"{image_id}.jpg"
                path.write_bytes(image_id.encode() * 10)
                images.append({"id": image_id, "path": str(path), "relpath": path.name})
            index = tmp_path / "shards" / "images" / f"{shard}.tsv"
            index.parent.mkdir(parents=True, exist_ok=True)
            write_image_index(index, images)
            self.images[shard] = str(index)
        (tmp_path / "model.json").write_text('{"weights": 1}')
        (tmp_path / "stage.py").write_text("# the stage's script")
        self.files = {"json": str(tmp_path / "out" / "{image_id}.json")}
        (tmp_path / "out").mkdir()

    def run(self, params=None):
        """Run the job; return the ids of the images it computed."""
        params = params or {"stage": {"threshold": 0.5}}
        inputs = {"images": list(self.images.values()), "model": str(self.root / "model.json")}
        outputs = {"index": [str(self.root / "shards" / "stage" / f"{shard}.tsv") for shard in self.images]}
        for index in outputs["index"]:  # Snakemake deletes a job's outputs before it runs
            (self.root / index).unlink(missing_ok=True)
        computed = []

        def process(items):
            for item in items:
                body = {"params": params, "photo": Path(item["path"]).read_text()}
                (self.root / item["json"]).write_text(json.dumps(body))
                computed.append(item["id"])
            return len(items)

        job = ModelJob(inputs, outputs, params, str(self.root / "stage.py"))
        job.run_indexed(self.files, ["index", "json"], process)
        return computed

    def index(self, shard):
        return (self.root / "shards" / "stage" / f"{shard}.tsv").read_bytes()


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return Project(tmp_path)


def test_a_rerun_reuses_every_unchanged_shard_byte_for_byte(project):
    assert project.run() == ["a", "b", "c", "d"]
    indexes = {shard: project.index(shard) for shard in project.images}
    assert project.run() == []
    assert {shard: project.index(shard) for shard in project.images} == indexes
    assert (project.root / "shards" / "stage" / "0001.reuse.json").is_file()


def test_an_edited_photo_recomputes_its_shard_only(project):
    project.run()
    photo = project.root / "photos" / "c.jpg"
    photo.write_bytes(b"edited")
    photos = project.root / "photos"
    write_image_index(project.images["0005"], [{"id": image_id, "path": str(photos / f"{image_id}.jpg"),
                                                "relpath": f"{image_id}.jpg"} for image_id in ("c", "d")])
    assert project.run() == ["c", "d"]


@pytest.mark.parametrize("change", ["params", "model", "script"])
def test_changed_params_model_or_script_recompute_every_shard(project, change):
    project.run()
    params = None
    if change == "params":
        params = {"stage": {"threshold": 0.7}}
    elif change == "model":
        (project.root / "model.json").write_text('{"weights": 2}')
    else:
        (project.root / "stage.py").write_text("# edited")
    assert project.run(params) == ["a", "b", "c", "d"]


@pytest.mark.parametrize("damage", ["delete", "edit", "record"])
def test_a_damaged_file_or_record_recomputes_its_shard(project, damage):
    project.run()
    if damage == "delete":
        (project.root / "out" / "b.json").unlink()
    elif damage == "edit":
        (project.root / "out" / "b.json").write_text("{}")
    else:
        (project.root / "shards" / "stage" / "0001.reuse.json").write_text("not json")
    assert project.run() == ["a", "b"]
    assert json.loads((project.root / "out" / "b.json").read_text())["photo"] == "b" * 10


def test_shard_items_carry_their_shard(project):
    items = shard_items(project.images["0005"], project.files)
    assert [(item["id"], item["shard"]) for item in items] == [("c", "0005"), ("d", "0005")]


def test_files_that_do_not_match_the_shards_are_an_error(project):
    inputs = {"images": list(project.images.values())}
    with pytest.raises(ValueError, match="'images' has 2 files for 1 shards"):
        ModelJob(inputs, {"index": ["shards/stage/0001.tsv"]}, {}, str(project.root / "stage.py"))

