"""Shard indexes: what a shard job wrote, and what the next job reads its images from."""

import hashlib
import os

import pytest

from photoprivacy.shard_index import read_shard_index, shard_items, write_image_index, write_shard_index


def sha256(data):
    return hashlib.sha256(data).digest()


def test_index_lists_each_image_file_with_a_digest_of_their_contents(tmp_path):
    items = []
    for image_id in ("b", "a"):
        (tmp_path / f"{image_id}.json").write_text(f'{{"id": "{image_id}"}}')
        (tmp_path / f"{image_id}.npz").write_bytes(image_id.encode() * 3)
        items.append({"id": image_id, "json": str(tmp_path / f"{image_id}.json"),
                      "npz": str(tmp_path / f"{image_id}.npz"), "relpath": "ignored"})
    index = tmp_path / "shards" / "0001.tsv"
    write_shard_index(index, items, ["index", "json", "npz"])
    digest_b = hashlib.sha256(sha256(b'{"id": "b"}') + sha256(b"bbb")).hexdigest()
    assert index.read_text().splitlines()[:2] == [
        "image_id\tjson\tnpz\tsha256",
        f"b\t{tmp_path}/b.json\t{tmp_path}/b.npz\t{digest_b}",
    ]
    rows = read_shard_index(index)
    assert [row["image_id"] for row in rows] == ["b", "a"] and rows[1]["npz"] == f"{tmp_path}/a.npz"


def test_the_index_changes_when_a_file_does(tmp_path):
    (tmp_path / "a.json").write_text("{}")
    items = [{"id": "a", "json": str(tmp_path / "a.json")}]
    write_shard_index(tmp_path / "first.tsv", items, ["json"])
    write_shard_index(tmp_path / "same.tsv", items, ["json"])
    (tmp_path / "a.json").write_text('{"changed": true}')
    write_shard_index(tmp_path / "changed.tsv", items, ["json"])
    first = (tmp_path / "first.tsv").read_bytes()
    assert (tmp_path / "same.tsv").read_bytes() == first != (tmp_path / "changed.tsv").read_bytes()


def test_an_index_is_not_written_when_a_file_is_missing(tmp_path):
    (tmp_path / "a.json").write_text("{}")
    items = [{"id": "a", "json": str(tmp_path / "a.json")}, {"id": "b", "json": str(tmp_path / "b.json")}]
    with pytest.raises(FileNotFoundError, match=r"did not write 1 file\(s\), first: .*b\.json"):
        write_shard_index(tmp_path / "index.tsv", items, ["json"])
    assert not (tmp_path / "index.tsv").exists()


def test_shard_items_come_from_the_image_index(tmp_path):
    photo = tmp_path / "photos" / "sub dir" / "Ünï.jpg"
    photo.parent.mkdir(parents=True)
    photo.write_bytes(b"12345")
    os.utime(photo, ns=(1_000_000_000, 2_000_000_123))
    write_image_index(tmp_path / "images.tsv",
                      [{"id": "sub_dir__Uni", "path": str(photo), "relpath": "sub dir/Ünï.jpg"}])
    assert read_shard_index(tmp_path / "images.tsv") == [
        {"image_id": "sub_dir__Uni", "path": str(photo), "relpath": "sub dir/Ünï.jpg", "bytes": "5",
         "mtime_ns": "2000000123"}]
    files = {"json": "results/detect/{image_id}.json", "png": "results/final/v/{image_id}.png"}
    assert shard_items(tmp_path / "images.tsv", files) == [{
        "id": "sub_dir__Uni", "path": str(photo), "relpath": "sub dir/Ünï.jpg", "source": "sub dir/Ünï.jpg",
        "shard": "images", "json": "results/detect/sub_dir__Uni.json", "png": "results/final/v/sub_dir__Uni.png",
    }]
