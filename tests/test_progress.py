"""Progress lines in a job's log: when they come, what they say, and the summary of a run's logs."""

import logging

import pytest
from test_detect_stage import small_photo_items

from photoprivacy.detection.detr import DetrDetector
from photoprivacy.detection.stage import run_detect_shard
from photoprivacy.model_jobs import ModelJob
from photoprivacy.persons.stage import run_persons_shard
from photoprivacy.progress import LINE, Progress, duration, job_progress, main, summary, tracked
from photoprivacy.shard_index import write_image_index

from conftest import MAX_PIXELS, default_config


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture
def lines(caplog):
    """The progress lines logged so far (their messages), as a job's log gets them."""
    caplog.set_level(logging.INFO, logger="photoprivacy.progress")
    return lambda: [record.getMessage() for record in caplog.records if record.name == "photoprivacy.progress"]


def test_a_line_and_the_end_line_say_done_rate_and_time_left(lines):
    clock = FakeClock()
    progress = Progress(1500, clock=clock)
    clock.now = 37.5
    progress.tick(120)  # 120 / 37.5 s = 3.2 images/s; 1380 left / 3.2 = 431 s
    clock.now = 484.0
    progress.tick(1380)
    progress.finish()  # the last tick wrote the end line: not a second one
    assert lines() == [
        "progress: 120/1500 images (8%), 3.2 images/s, 7 min 11 s left",
        "progress: 1500/1500 images (100%), 3.1 images/s, done in 8 min 4 s",
    ]


def test_a_line_every_10_s_or_every_5_percent_whichever_comes_first(lines):
    clock = FakeClock()
    progress = Progress(1000, clock=clock)  # 5 %: 50 images
    for _ in range(12):  # one image a second: the 10 s rule
        clock.now += 1
        progress.tick()
    for _ in range(60):  # 8 images a second: 50 images (at 18 s) before 10 s more, counted from the last line
        clock.now += 0.125
        progress.tick()
    assert lines() == [
        "progress: 10/1000 images (1%), 1.0 images/s, 16 min 30 s left",
        "progress: 60/1000 images (6%), 3.3 images/s, 4 min 42 s left",
    ]


def test_rates_below_one_image_a_second_and_hours_left(lines):
    clock = FakeClock()
    progress = Progress(2000, clock=clock)
    clock.now = 40.0
    progress.tick(10)
    assert lines() == ["progress: 10/2000 images (0%), 0.25 images/s, 2 h 12 min left"]
    assert [duration(s) for s in (0, 0.4, 59.6, 60, 3599, 3600, 7261)] == [
        "0 s", "0 s", "1 min 0 s", "1 min 0 s", "59 min 59 s", "1 h 0 min", "2 h 1 min"]


def test_a_shard_without_images_gets_its_end_line(lines):
    clock = FakeClock()
    with job_progress(0, clock=clock):
        pass
    assert lines() == ["progress: 0/0 images (100%), 0 images/s, done in 0 s"]


def test_a_failed_job_says_stopped(lines):
    clock = FakeClock()
    with pytest.raises(RuntimeError), job_progress(100, clock=clock) as progress:
        clock.now = 20.0
        progress.tick(2)  # 2 % after 20 s: a line for the 10 s rule
        raise RuntimeError("model failed")
    assert lines() == ["progress: 2/100 images (2%), 0.1 images/s, 16 min 20 s left",
                       "progress: 2/100 images (2%), 0.1 images/s, stopped after 20 s"]


def test_tracked_loops_tick_the_running_job_or_their_own(lines):
    clock = FakeClock()
    with job_progress(4, clock=clock) as job:  # a model job over two shards of two images
        for shard in (["a", "b"], ["c", "d"]):
            for _ in tracked(shard):
                clock.now += 1
        assert job.done == 4
    assert lines()[-1] == "progress: 4/4 images (100%), 1.0 images/s, done in 4 s"
    assert [LINE.search(line)["done"] for line in lines()] == ["1", "2", "3", "4"]  # each is 25 %
    assert list(tracked(["x", "y", "z"])) == ["x", "y", "z"]  # no job: a progress of its own
    assert lines()[-1].startswith("progress: 3/3 images (100%), ")


def write_log(path, *messages):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"2025-01-02 10:00:{i:02d},000 INFO photoprivacy.progress: {m}\n"
                            for i, m in enumerate(messages)))


def test_summary_lists_the_last_line_of_each_job_and_a_total(tmp_path, capsys):
    logs = tmp_path / "results" / "logs"
    write_log(logs / "detect" / "0000-0063.log", "detector detr (cpu)",
              "progress: 40/1500 images (2%), 4.0 images/s, 6 min 5 s left",
              "progress: 1500/1500 images (100%), 3.1 images/s, done in 8 min 4 s", "job done: {}")
    write_log(logs / "persons" / "0007.log", "progress: 10/24 images (41%), 1.0 images/s, 14 s left")
    write_log(logs / "render_scenario1" / "base" / "0007.log",
              "progress: 2/24 images (8%), 0.1 images/s, stopped after 20 s", "Traceback ...")
    write_log(logs / "models" / "hub-detr.log", "fetched detr")  # no progress: not a shard job
    (logs / "persons" / "0009.log").write_text("2025-01-02 10:00:00,000 INFO photoprivacy: started\nprogress: 3/")
    expected = [
        "stage             job        images     %     images/s  state",
        "detect            0000-0063  1500/1500  100%  3.1       done in 8 min 4 s",
        "persons           0007       10/24      41%   1.0       14 s left",
        "render_scenario1  base/0007  2/24       8%    0.1       stopped after 20 s",
        "total: 3 jobs (1 done, 1 stopped, 1 running), 1512/1548 images (97%)",
    ]
    assert summary(logs) == expected
    assert main([str(logs)]) == 0
    assert capsys.readouterr().out.splitlines() == expected
    (tmp_path / "empty").mkdir()
    assert summary(tmp_path / "empty")[-1] == "total: 0 jobs (0 done, 0 stopped, 0 running), 0/0 images (100%)"


def test_a_detect_model_job_and_a_persons_job_log_progress(tmp_path, tiny_detr_dir, shared_photos, lines):
    """Real stages: detection as a model job over two shards, then the persons job of one shard."""
    items = small_photo_items(shared_photos, tmp_path / "detect")
    shards = {"0001": items[:2], "0002": items[2:]}
    for shard, images in shards.items():
        write_image_index(tmp_path / "shards" / "images" / f"{shard}.tsv", images)
    (tmp_path / "detect.py").write_text("# the stage's script")
    job = ModelJob({"images": [str(tmp_path / "shards" / "images" / f"{s}.tsv") for s in shards],
                    "model": str(tiny_detr_dir / "manifest.json")},
                   {"index": [str(tmp_path / "shards" / "detect" / f"{s}.tsv") for s in shards]},
                   {"threshold": 0.5}, str(tmp_path / "detect.py"))
    files = {key: str(tmp_path / "detect" / "out" / f"{{image_id}}.{key}") for key in ("json", "npz")}

    def detect(job_items):
        detector = DetrDetector(tiny_detr_dir, threshold=0.5, short_side=96, max_side=None, device="cpu", half=False)
        return run_detect_shard(job_items, detector, {"threshold": 0.5}, batch_size=3, max_pixels=MAX_PIXELS)

    assert job.run_indexed(files, ["index", "json", "npz"], detect)["images"] == len(items)
    n = len(items)
    detect_lines = lines()
    assert detect_lines[-1].startswith(f"progress: {n}/{n} images (100%), ") and "done in" in detect_lines[-1]
    assert all(LINE.search(line) for line in detect_lines)

    persons = [{"detect_json": files["json"].format(image_id=item["id"]),
                "detect_npz": files["npz"].format(image_id=item["id"]),
                "json": str(tmp_path / "persons" / f"{item['id']}.json")} for item in shards["0002"]]
    (tmp_path / "persons").mkdir()
    run_persons_shard(persons, default_config()["persons"])
    persons_lines = lines()[len(detect_lines):]
    m = len(persons)
    assert [LINE.search(line)["done"] for line in persons_lines] == [str(i) for i in range(1, m + 1)]
    assert persons_lines[-1].startswith(f"progress: {m}/{m} images (100%), ")
    assert "done in" in persons_lines[-1]
