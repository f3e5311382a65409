"""Image discovery, id derivation, sample sheets and stable shards."""

from pathlib import Path

import pytest

from photoprivacy.errors import ConfigError
from photoprivacy.samples import (
    assign_shards,
    collect_images,
    discover_images,
    image_id_from_relpath,
    read_sample_sheet,
    shard_of,
)


@pytest.mark.parametrize(
    ("relpath", "expected"),
    [
        ("coco01.jpg", "coco01"),
        ("holiday/Beach Day.JPG", "holiday__Beach_Day"),
        ("café/Ünïcode photo.png", "cafe__Unicode_photo"),
        ("a/b/c.d.tif", "a__b__c.d"),
        ("-odd name-.png", "odd_name"),
    ],
)
def test_image_ids_are_safe_file_names(relpath, expected):
    assert image_id_from_relpath(relpath) == expected


def test_unfoldable_characters_keep_ids_distinct():
    beijing = image_id_from_relpath("北京.jpg")
    shanghai = image_id_from_relpath("上海.jpg")
    assert beijing.startswith("img_") and shanghai.startswith("img_")
    assert beijing != shanghai
    assert beijing == image_id_from_relpath("北京.jpg")  # stable
    assert image_id_from_relpath("trip/北京 1.jpg").startswith("trip__1_")


def test_discovery_is_recursive_and_filters_extensions(tmp_path):
    for name in ["a.jpg", "sub/b.PNG", "sub/deeper/c.webp", "notes.txt", ".hidden/d.jpg"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    images = discover_images(tmp_path, ["jpg", "png", "webp"])
    assert sorted(images) == ["a", "sub__b", "sub__deeper__c"]
    assert images["sub__b"] == tmp_path / "sub" / "b.PNG"


def test_two_files_with_one_id_is_an_error_naming_both(tmp_path):
    (tmp_path / "a b.jpg").write_bytes(b"x")
    (tmp_path / "a_b.png").write_bytes(b"x")
    with pytest.raises(ConfigError) as error:
        discover_images(tmp_path, ["jpg", "png"])
    assert "a b.jpg" in str(error.value) and "a_b.png" in str(error.value) and "'a_b'" in str(error.value)


def test_missing_folder_names_the_key(tmp_path):
    with pytest.raises(ConfigError, match="config key input.images: folder .* does not exist"):
        discover_images(tmp_path / "nope", ["jpg"])


def test_sample_sheet(tmp_path):
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "x.jpg").write_bytes(b"x")
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("id,path\nphoto_1,imgs/x.jpg\nabs,/data/y.png\n")
    images = read_sample_sheet(sheet)
    assert images == {"photo_1": tmp_path / "imgs" / "x.jpg", "abs": Path("/data/y.png")}
    assert collect_images({"sample_sheet": str(sheet), "images": "unused", "extensions": ["jpg"]}) == images


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("name,path\na,b.jpg\n", r"lacks column\(s\) \['id'\]"),
        ("id,path\nbad id,b.jpg\n", "line 2: id 'bad id' is not safe"),
        ("id,path\na,b.jpg\na,c.jpg\n", "both map to image id 'a'"),
    ],
)
def test_bad_sample_sheets_name_the_problem(tmp_path, content, message):
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(content)
    with pytest.raises(ConfigError, match=message):
        read_sample_sheet(sheet)


def test_shard_of_is_a_fixed_hash():
    # sha256("coco01")[:8] as a big-endian integer, modulo the shard count.
    import hashlib

    expected = int.from_bytes(hashlib.sha256(b"coco01").digest()[:8], "big") % 16
    assert shard_of("coco01", 16) == expected
    assert shard_of("coco01", 1) == 0


def test_adding_an_image_moves_no_other_image():
    ids = [f"img_{i:05d}" for i in range(2000)]
    before = assign_shards(ids, 16)
    after = assign_shards(ids + ["new_photo"], 16)
    changed = [name for name in after if after[name] != before.get(name)]
    assert len(changed) == 1 and "new_photo" in after[changed[0]]
    sizes = [len(members) for members in before.values()]
    assert len(before) == 16 and min(sizes) > 80 and max(sizes) < 170  # roughly balanced


def test_empty_shards_are_left_out():
    shards = assign_shards(["only_one"], 64)
    assert list(shards.values()) == [["only_one"]]
