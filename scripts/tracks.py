"""Rule tracks_<video>: person tracks across the video's frames, one role and one face each."""

from photoprivacy.artifacts import read_json, write_json
from photoprivacy.joblog import log_to_file
from photoprivacy.video.intake import frame_ids
from photoprivacy.video.stage import tracks_record

log = log_to_file(snakemake.log[0])
record = read_json(snakemake.input.record)
ids = frame_ids(record["image_id"], record, snakemake.params.step)
files = snakemake.params.files
persons = [read_json(files["persons_json"].format(image_id=frame)) for frame in ids]
faces = [read_json(files["faces_json"].format(image_id=frame)) for frame in ids]
tracks = tracks_record(record["image_id"], ids, persons, faces, snakemake.params.stage)
write_json(snakemake.output.json, tracks)
log.info("%s: %s", record["image_id"], tracks["summary"])
