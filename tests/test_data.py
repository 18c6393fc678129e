"""Data pipeline: readers in the real layouts, exact decoding, sampling, transforms, synthetic data,
datasets/loaders, ``litevid data``. Fixtures are tiny files written here (64x48 videos, 30 frames);
tests on the real files in ../shared/data skip when that folder is absent."""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch

av = pytest.importorskip("av", reason="PyAV (the 'data' extra) is needed for the data tests")
Image = pytest.importorskip("PIL.Image", reason="Pillow (the 'data' extra) is needed")
pytest.importorskip("kornia", reason="kornia (the 'data' extra) is needed")

from litevid.cli import main as litevid_main  # noqa: E402
from litevid.data import (  # noqa: E402
    SYNTHETIC_CLASSES,
    AugmentConfig,
    ClipTransform,
    DatasetSpec,
    VideoAugment,
    annotation_stats,
    build_dataset,
    dataset_spec,
    default_augment,
    list_datasets,
    read_annotations,
    read_ek100,
    read_k400,
    read_list,
    read_ssv2,
    read_video_frames,
    render_motion_clip,
    SyntheticVideoDataset,
    tsn_indices,
    uniform_indices,
    video_info,
)
from litevid.data import decode, specs  # noqa: E402
from litevid.data.bench import bench_loader  # noqa: E402
from litevid.data.cli import check_clip  # noqa: E402
from litevid.data.decode import _decode_in_order, clear_folder_cache, open_video  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
needs_shared = pytest.mark.skipif(not SHARED_DATA.is_dir(),
                                  reason=f"real data folder {SHARED_DATA} is absent")

W, H, N = 64, 48, 30


# ----------------------------------------------------------------------------- fixture writers


def index_image(i: int, w: int = W, h: int = H) -> np.ndarray:
    """A frame showing its own index: 8 vertical bars, bar b white when bit b of i is set."""
    img = np.full((h, w, 3), 16, np.uint8)
    bar = w // 8
    for b in range(8):
        if (i >> b) & 1:
            img[:, b * bar:(b + 1) * bar] = 235
    return img


def read_index(img: np.ndarray) -> int:
    """Inverse of ``index_image``, from the middle of each bar (robust to compression/resize)."""
    w = img.shape[1]
    bar = w / 8
    value = 0
    for b in range(8):
        x0, x1 = int(b * bar + bar / 4), int(b * bar + 3 * bar / 4)
        if img[:, x0:max(x1, x0 + 1)].mean() > 128:
            value |= 1 << b
    return value


def write_video(path: Path, n: int = N, *, codec: str = "libx264", fps: int = 25,
                options: dict | None = None, w: int = W, h: int = H) -> Path:
    if options is None:  # B-frames and a key frame every 8 frames: reordering and jumps happen
        options = ({"x264-params": "keyint=8:min-keyint=8:bframes=2:scenecut=0", "crf": "12"}
                   if codec == "libx264" else {"g": "8", "bf": "2", "qscale": "2"})
    container = av.open(str(path), "w")
    stream = container.add_stream(codec, rate=fps)
    stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
    stream.options = options
    for i in range(n):
        for packet in stream.encode(av.VideoFrame.from_ndarray(index_image(i, w, h), format="rgb24")):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path


def write_frames(folder: Path, n: int, *, first: int = 1, name: str = "img_{:05d}.jpg") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(first, first + n):
        Image.fromarray(index_image(i)).save(folder / name.format(i), quality=95)
    clear_folder_cache()
    return folder


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("videos")
    mp4 = write_video(d / "clip.mp4")
    mkv = write_video(d / "clip.mkv", codec="mpeg4")  # no frame count in the container
    truncated = d / "truncated.mp4"
    truncated.write_bytes(mp4.read_bytes()[: mp4.stat().st_size // 2])
    truncated_mkv = d / "truncated.mkv"
    truncated_mkv.write_bytes(mkv.read_bytes()[: mkv.stat().st_size // 2])
    garbage = d / "garbage.mp4"
    garbage.write_bytes(b"this is not a video" * 100)
    raw = write_video(d / "clip.h264")  # raw H.264 stream: packets carry no pts
    return {"mp4": mp4, "mkv": mkv, "truncated": truncated, "truncated_mkv": truncated_mkv,
            "garbage": garbage, "h264": raw}


# ----------------------------------------------------------------------------- decoding


@pytest.mark.parametrize("kind", ["mp4", "mkv"])
def test_decoding_returns_exactly_the_requested_frames(videos, kind):
    info = video_info(videos[kind])
    assert (info.frames, info.fps, info.width, info.height, info.first_index) == (N, 25.0, W, H, 0)
    for indices in ([0, 29, 3, 3, 17, 9, 28], [1, 26], [29], list(range(N)), [5, 4, 3]):
        frames = read_video_frames(videos[kind], indices)
        assert frames.dtype == np.uint8 and frames.shape == (len(indices), H, W, 3)
        assert [read_index(f) for f in frames] == indices


def reference_frames(path: Path) -> list[np.ndarray]:
    """Every frame by plain in-order PyAV decoding: a fresh container, none of our code."""
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def test_sparse_path_matches_in_order_decoding_bit_exactly(videos):
    wanted = np.array([2, 11, 12, 27])
    with open_video(videos["mp4"]) as video:
        ref, count = _decode_in_order(video, wanted, lambda frame: None)
    fast = read_video_frames(videos["mp4"], wanted)
    plain = reference_frames(videos["mp4"])
    assert count == 28 and all(np.array_equal(fast[k], ref[int(i)]) for k, i in enumerate(wanted))
    assert all(np.array_equal(fast[k], plain[int(i)]) for k, i in enumerate(wanted))


def test_one_fallback_path_gives_exact_frames(videos, monkeypatch):
    # Natural fallback: a raw H.264 stream has no timestamps, so only the in-order counter can
    # place frames; the frame count comes from demuxing, on the same open file.
    indices = [0, 7, 13, 29, 5, 5]
    plain = reference_frames(videos["h264"])
    with open_video(videos["h264"]) as video:
        assert video.info.frames == N
        frames = video.read(indices)
    assert [read_index(f) for f in frames] == indices
    assert all(np.array_equal(frames[k], plain[i]) for k, i in enumerate(indices))
    with pytest.raises(ValueError, match=r"clip.h264: video too short or truncated: frame 40"):
        read_video_frames(videos["h264"], [0, 40])
    # Forced fallback after a complete sparse decode (decoder used, then drained): the in-order
    # restart on the same container still returns every frame exactly.
    sparse = decode._decode_sparse

    def sparse_then_fallback(video, wanted, size_of):
        sparse(video, wanted, size_of)
        raise decode._Fallback

    monkeypatch.setattr(decode, "_decode_sparse", sparse_then_fallback)
    for kind in ("mp4", "mkv"):
        plain = reference_frames(videos[kind])
        frames = read_video_frames(videos[kind], indices + [N - 1])
        assert all(np.array_equal(frames[k], plain[i]) for k, i in enumerate(indices + [N - 1]))


def test_decoder_resizes_short_side_on_uint8(videos):
    frames = read_video_frames(videos["mp4"], [7, 21], short_side=24)
    assert frames.shape == (2, 24, 32, 3)
    assert [read_index(f) for f in frames] == [7, 21]


def test_frame_folders_use_file_numbers(tmp_path):
    folder = write_frames(tmp_path / "P01" / "rgb_frames" / "P01_01", 12, first=1,
                          name="frame_{:010d}.jpg")
    info = video_info(folder)
    assert (info.frames, info.first_index, info.width, info.height, info.kind) == (12, 1, W, H, "frames")
    frames = read_video_frames(folder, [1, 12, 5, 5])
    assert [read_index(f) for f in frames] == [1, 12, 5, 5]
    assert read_video_frames(folder, [3], short_side=24).shape == (1, 24, 32, 3)


@pytest.mark.parametrize("case", ["garbage", "truncated", "truncated_mkv", "too_short", "missing"])
def test_bad_videos_raise_one_clear_error_naming_the_file(videos, tmp_path, case):
    path = {"missing": tmp_path / "nope.mp4", "too_short": videos["mp4"]}.get(case, videos.get(case))
    expected = FileNotFoundError if case == "missing" else ValueError
    # A cut mkv is a valid shorter video (no frame count in the header): it fails when the
    # annotation asks for a frame it lost.
    last = {"too_short": 2 * N - 1, "truncated_mkv": N - 1}.get(case)
    with pytest.raises(expected) as err:
        if last is None:
            last = video_info(path).frames - 1
        read_video_frames(path, [0, last])
    message = str(err.value)
    assert str(path) in message and "\n" not in message
    if last is not None and case in ("too_short", "truncated_mkv"):
        assert "too short" in message


def test_bad_frame_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match="frame folder not found"):
        read_video_frames(tmp_path / "no_such_clip", [1])
    folder = write_frames(tmp_path / "clip", 3)
    with pytest.raises(FileNotFoundError, match="img_00009.jpg"):
        read_video_frames(folder, [1, 9])
    (folder / "img_00002.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match="img_00002.jpg: cannot decode image"):
        read_video_frames(folder, [2])


@needs_shared
def test_real_videos_and_frames():
    demo = video_info(SHARED_DATA / "videos" / "demo.mp4")
    assert (demo.frames, demo.fps, demo.width, demo.height) == (280, 28.0, 340, 256)
    for name in ("short_32frames.mp4", "test.avi"):
        path = SHARED_DATA / "videos" / name
        wanted = np.array([0, 5, 6, 20, video_info(path).frames - 1])
        ref = reference_frames(path)
        fast = read_video_frames(path, wanted)
        assert all(np.array_equal(fast[k], ref[int(i)]) for k, i in enumerate(wanted))
    imgs = video_info(SHARED_DATA / "frames" / "mmaction2_imgs")
    assert (imgs.frames, imgs.first_index, imgs.width, imgs.height) == (10, 1, 320, 240)
    assert read_video_frames(SHARED_DATA / "frames" / "mmaction2_imgs", [1, 10]).shape == (2, 240, 320, 3)


# ----------------------------------------------------------------------------- annotation readers


def write_k400(tmp_path: Path, rows: list[tuple], name: str = "kinetics-400_val.csv") -> Path:
    path = tmp_path / name
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["label", "youtube_id", "time_start", "time_end", "split", "is_cc"])
        w.writerows(rows)
    return path


def test_k400_reader(tmp_path):
    csv_path = write_k400(tmp_path, [("abseiling", "0wR5jVB-WPk", 417, 427, "val", 0),
                                     ("air drumming", "xyz", 5, 12, "val", 0),
                                     ("abseiling", "a-b_c", 0, 10, "val", 1)])
    label_map = tmp_path / "label_map.txt"
    label_map.write_text("abseiling\nair drumming\nanswering questions\n")
    ann = read_k400(csv_path, label_map=label_map)
    assert [r.path for r in ann.records] == ["0wR5jVB-WPk_000417_000427.mp4",
                                             "xyz_000005_000012.mp4", "a-b_c_000000_000010.mp4"]
    assert [r.labels["label"] for r in ann.records] == [0, 1, 0]
    assert len(ann.classes["label"]) == 3 and ann.records[1].duration == 7.0
    stats = annotation_stats(ann)
    assert stats["heads"]["label"]["classes_present"] == 2
    assert stats["duration_s"]["mean"] == pytest.approx(9.0)
    # Without a label map: the sorted labels of the CSV.
    assert read_k400(csv_path).classes["label"] == ["abseiling", "air drumming"]
    # {label}/ in the template: the class-folder layout.
    assert read_k400(csv_path, filename_template="{label}/{youtube_id}.mp4").records[0].path == \
        "abseiling/0wR5jVB-WPk.mp4"


@pytest.mark.parametrize("case, message", [
    ("unknown", r"kinetics-400_val.csv:3: unknown label 'juggling fire'"),
    ("columns", r"kinetics-400_val.csv:2: expected 6 columns, got 4"),
    ("number", r"kinetics-400_val.csv:2: time_start must be an integer"),
    ("empty", r"kinetics-400_val.csv: no clips"),
])
def test_k400_bad_input(tmp_path, case, message):
    label_map = tmp_path / "label_map.txt"
    label_map.write_text("abseiling\n")
    rows = {"unknown": [("abseiling", "a", 0, 10, "val", 0), ("juggling fire", "b", 0, 10, "val", 0)],
            "columns": [("abseiling", "a", 0, 10)],
            "number": [("abseiling", "a", "zero", 10, "val", 0)],
            "empty": []}[case]
    with pytest.raises(ValueError, match=message):
        read_k400(write_k400(tmp_path, rows), label_map=label_map)


def write_ssv2(tmp_path: Path) -> tuple[Path, Path]:
    labels = tmp_path / "something-something-v2-labels.json"
    labels.write_text(json.dumps({"Approaching something with your camera": "0",
                                  "Putting something on something": "1",
                                  "Pushing something from left to right": "2"}))
    val = tmp_path / "something-something-v2-validation.json"
    val.write_text(json.dumps([
        {"id": "74225", "label": "putting a cup on a box",
         "template": "Putting [something] on [something]", "placeholders": ["a cup", "a box"]},
        {"id": "1", "label": "pushing pen from left to right",
         "template": "Pushing [something] from left to right", "placeholders": ["pen"]}]))
    return labels, val


def test_ssv2_reader_json_and_list(tmp_path):
    labels, val = write_ssv2(tmp_path)
    ann = read_ssv2(val)  # labels JSON found beside the list
    assert [(r.path, r.labels["label"]) for r in ann.records] == [("74225.webm", 1), ("1.webm", 2)]
    assert ann.classes["label"][2] == "Pushing something from left to right"
    listed = tmp_path / "train-list.txt"
    listed.write_text("78687 0 47 2\n42326 0 23 0\n")
    ann = read_ssv2(listed, labels=labels)
    assert [(r.path, r.start_frame, r.end_frame) for r in ann.records] == [("78687", 0, 47),
                                                                           ("42326", 0, 23)]
    assert ann.records[0].duration == pytest.approx(4.0)  # 48 frames at 12 fps
    assert ann.format == "ssv2" and len(ann.classes["label"]) == 3


def test_ssv2_bad_input(tmp_path):
    labels, val = write_ssv2(tmp_path)
    entries = json.loads(val.read_text())
    entries[1]["template"] = "Juggling [something]"
    val.write_text(json.dumps(entries))
    with pytest.raises(ValueError, match=r"entry 1 \(id 1\): unknown label 'Juggling something'"):
        read_ssv2(val)
    val.write_text('[{"id": "1", "template": ')
    with pytest.raises(ValueError, match="malformed JSON"):
        read_ssv2(val)
    val.write_text("[]")
    with pytest.raises(ValueError, match="no clips"):
        read_ssv2(val)
    labels.unlink()
    val.write_text(json.dumps(entries[:1]))
    with pytest.raises(ValueError, match="need the labels JSON"):
        read_ssv2(val)


EK_HEADER = ["narration_id", "participant_id", "video_id", "narration_timestamp",
             "start_timestamp", "stop_timestamp", "start_frame", "stop_frame", "narration", "verb",
             "verb_class", "noun", "noun_class", "all_nouns", "all_noun_classes"]


def write_ek100(tmp_path: Path) -> dict[str, Path]:
    with open(tmp_path / "EPIC_100_verb_classes.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "key", "instances", "category"])
        w.writerows([(0, "take", "['take']", "retrieve"), (1, "put", "['put']", "leave"),
                     (2, "wash", "['wash']", "clean")])
    with open(tmp_path / "EPIC_100_noun_classes.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "key", "instances", "category"])
        w.writerows([(0, "tap", "['tap']", "appliances"), (1, "spoon", "['spoon']", "cutlery"),
                     (2, "plate", "['plate']", "crockery")])
    (tmp_path / "EPIC_100_video_info.csv").write_text(
        "video_id,duration,fps,resolution\nP01_01,100.0,50.0,1920x1080\nP01_11,60.0,60.0,1920x1080\n")
    train = tmp_path / "EPIC_100_train_list.txt"
    train.write_text("P01/rgb_frames/P01_01 8 57 0 2\nP01/rgb_frames/P01_01 262 370 1 2\n"
                     "P01/rgb_frames/P01_01 400 449 0 1\nP01/rgb_frames/P01_01 500 549 0 2\n")
    val = tmp_path / "EPIC_100_validation.csv"
    with open(val, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(EK_HEADER)
        w.writerow(["P01_11_0", "P01", "P01_11", "00:00:00.560", "00:00:00.00", "00:00:01.89", 1,
                    113, "take plate", "take", 0, "plate", 2, "['plate']", "[2]"])
        w.writerow(["P01_11_1", "P01", "P01_11", "00:00:01.700", "00:00:01.56", "00:00:02.45", 93,
                    147, "wash tap", "wash", 2, "tap", 0, "['tap']", "[0]"])
    return {"train": train, "val": val}


def test_ek100_reader_csv_list_and_actions(tmp_path):
    files = write_ek100(tmp_path)
    train = read_ek100(files["train"])
    assert train.heads == ("verb", "noun", "action")
    # Actions: sorted distinct (verb, noun) pairs of training: (0,1)=0, (0,2)=1, (1,2)=2.
    assert [r.labels for r in train.records] == [
        {"verb": 0, "noun": 2, "action": 1}, {"verb": 1, "noun": 2, "action": 2},
        {"verb": 0, "noun": 1, "action": 0}, {"verb": 0, "noun": 2, "action": 1}]
    assert train.classes["action"] == ["take spoon", "take plate", "put plate"]
    assert train.records[0].duration == pytest.approx(50 / 50.0)  # fps from EPIC_100_video_info.csv
    stats = annotation_stats(train)
    assert {h: v["classes_present"] for h, v in stats["heads"].items()} == \
        {"verb": 2, "noun": 2, "action": 3}
    action_map = {(0, 1): 0, (0, 2): 1, (1, 2): 2}
    val = read_ek100(files["val"], action_map=action_map)
    r = val.records[0]
    assert (r.path, r.start_frame, r.end_frame) == ("P01/rgb_frames/P01_11", 1, 113)
    assert r.labels == {"verb": 0, "noun": 2, "action": 1} and r.duration == pytest.approx(1.89)
    assert val.records[1].labels["action"] == -1  # (wash, tap) never seen in training
    assert annotation_stats(val)["heads"]["action"]["unmapped_clips"] == 1


def test_ek100_bad_input(tmp_path):
    files = write_ek100(tmp_path)
    rows = files["val"].read_text().splitlines()
    files["val"].write_text("\n".join(rows[:2] + [rows[2].rsplit(",", 3)[0]]) + "\n")
    with pytest.raises(ValueError, match=r"EPIC_100_validation.csv:3: expected 15 columns, got 12"):
        read_ek100(files["val"])
    files["train"].write_text("P01/rgb_frames/P01_01 8 57 7 2\n")
    with pytest.raises(ValueError, match="unknown verb class 7"):
        read_ek100(files["train"])
    files["val"].write_text(",".join(EK_HEADER) + "\n")
    with pytest.raises(ValueError, match="no clips"):
        read_ek100(files["val"])


def test_list_reader(tmp_path):
    path = tmp_path / "annotations.txt"
    path.write_text("# comment\njumping/0001 1 17 0\n\nrunning/0001 1 15 1\n")
    ann = read_list(path)
    assert [(r.path, r.start_frame, r.end_frame, r.labels) for r in ann.records] == [
        ("jumping/0001", 1, 17, {"label": 0}), ("running/0001", 1, 15, {"label": 1})]
    two = tmp_path / "two.txt"
    two.write_text("my clips/a 1 10 3 4\nmy clips/b 1 10 3 5\n")  # path with a space
    ann = read_list(two, label_names=("verb", "noun"))
    assert ann.records[0].path == "my clips/a" and ann.records[1].labels == {"verb": 3, "noun": 5}
    assert annotation_stats(ann)["heads"]["verb+noun"]["classes_present"] == 2
    bad = tmp_path / "bad.txt"
    bad.write_text("a 1 10 0\nb 1 10\n")
    with pytest.raises(ValueError, match=r"bad.txt:2: expected 4 columns"):
        read_list(bad)
    bad.write_text("a 1 10 5\n")
    with pytest.raises(ValueError, match=r"bad.txt:1: unknown label 5 \(classes 0..1\)"):
        read_list(bad, classes={"label": ["jump", "run"]})
    bad.write_text("\n# nothing\n")
    with pytest.raises(ValueError, match="bad.txt: no clips"):
        read_list(bad)
    with pytest.raises(FileNotFoundError, match="missing.txt: annotation list not found"):
        read_list(tmp_path / "missing.txt")


# ----------------------------------------------------------------------------- dataset registry


def test_dataset_registry_entries():
    assert list_datasets() == ["ek100", "k400", "list", "ssv2", "synthetic"]
    assert list_datasets(annotated=True) == ["ek100", "k400", "list", "ssv2"]
    policy = {n: (dataset_spec(n).flip, dataset_spec(n).template, dataset_spec(n).heads)
              for n in list_datasets()}
    assert policy == {
        "k400": (True, "{youtube_id}_{time_start:06d}_{time_end:06d}.mp4", ("label",)),
        "ssv2": (False, "{id}.webm", ("label",)),  # labels say "from left to right"
        "ek100": (True, "{participant_id}/rgb_frames/{video_id}", ("verb", "noun", "action")),
        "list": (True, None, None),  # paths and heads come from the file
        "synthetic": (False, None, ("label",)),  # classes are motion directions
    }
    assert {n: default_augment(n).flip for n in list_datasets()} == \
        {n: flip for n, (flip, _t, _h) in policy.items()}
    assert not default_augment("synthetic").any_batch_op and default_augment("ssv2").any_batch_op
    assert dataset_spec("ssv2").fps == 12.0 and dataset_spec("ssv2").label_files == (
        "something-something-v2-labels.json",)
    assert dataset_spec("ek100").label_files == ("EPIC_100_verb_classes.csv",
                                                 "EPIC_100_noun_classes.csv")
    assert dataset_spec("synthetic").input_defaults == {"size": 112}


def test_dataset_registry_fails_loudly(tmp_path, capsys):
    with pytest.raises(ValueError, match="unknown dataset 'ek10'; did you mean ek100"):
        dataset_spec("ek10")
    with pytest.raises(ValueError, match="unknown dataset 'ssv3'; did you mean ssv2"):
        build_dataset("ssv3")
    with pytest.raises(ValueError, match="already registered"):
        specs.register_dataset(dataset_spec("k400"))
    with pytest.raises(ValueError, match="a reader or a builder"):
        DatasetSpec("nothing")
    with pytest.raises(ValueError, match="not input-contract fields"):
        DatasetSpec("odd", reader=read_list, input_defaults={"fps": 30})
    with pytest.raises(ValueError, match="k400 annotations take no video_info option"):
        read_annotations("k400", tmp_path / "x.csv", video_info=tmp_path / "info.csv")
    # --format choices are the registry's annotated datasets.
    with pytest.raises(SystemExit):
        litevid_main(["data", "check", "--format", "synthetic", "--annotations", "x"])
    err = capsys.readouterr().err
    assert "invalid choice: 'synthetic'" in err
    assert all(name in err for name in list_datasets(annotated=True))


def test_a_new_dataset_is_one_entry(tmp_path, videos, monkeypatch):
    """A K400-format dataset with class folders and no flip: one register_dataset call."""
    monkeypatch.setattr(specs, "_REGISTRY", dict(specs._REGISTRY))  # undone after the test
    specs.register_dataset(DatasetSpec(
        name="k400_folders", reader=read_k400, labels_arg="label_map",
        template="{label}/{youtube_id}.mp4", flip=False, input_defaults={"frames": 4}))
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "abc.mp4").write_bytes(videos["mp4"].read_bytes())
    csv_path = write_k400(tmp_path, [("a", "abc", 1, 11, "train", 0)])
    ds = build_dataset("k400_folders", "train", annotations=csv_path, root=tmp_path, size=32)
    assert ds.records[0].path == "a/abc.mp4" and not ds.transform.flip and ds.frames == 4
    assert ds[0][0].shape == (3, 4, 32, 32)
    out = tmp_path / "check.json"
    assert litevid_main(["data", "check", "--format", "k400_folders", "--annotations",
                         str(csv_path), "--root", str(tmp_path), "--json", str(out)]) == 0
    assert json.loads(out.read_text())["format"] == "k400_folders"


def _model_defaults() -> dict:
    from litevid.models import ModelSpec

    return {f.name: f.default for f in dataclasses.fields(ModelSpec)
            if f.name in ("frames", "size", "mean", "std")}


def test_build_dataset_takes_the_input_contract_from_the_model_spec(list_dataset_files,
                                                                    monkeypatch):
    import litevid.models as models

    root, ann = list_dataset_files
    defaults = _model_defaults()
    # No model: the ModelSpec field defaults, the one source of frames/size/mean/std.
    ds = build_dataset("list", "val", annotations=ann, root=root)
    assert (ds.frames, ds.transform.size, ds.transform.mean, ds.transform.std) == (
        defaults["frames"], defaults["size"], tuple(defaults["mean"]), tuple(defaults["std"]))
    # A real registered model whose normalisation differs from the defaults.
    name = next(n for n in models.list_models() if models.model_spec(n).mean != defaults["mean"])
    real = models.model_spec(name)
    ds = build_dataset("list", "val", annotations=ann, root=root, model=name)
    assert (ds.transform.mean, ds.transform.std) == (tuple(real.mean), tuple(real.std))
    # Whatever the spec says is used: a spec with other frames/size.
    spec = dataclasses.replace(real, frames=6, size=40)
    monkeypatch.setattr(models, "model_spec", lambda n: spec if n == "tiny" else real)
    ds = build_dataset("list", "val", annotations=ann, root=root, model="tiny", augment="batch")
    assert ds.frames == 6 and ds.transform.size == 40 and ds[2][0].shape == (3, 6, 40, 40)
    assert ds.batch_transform.mean.tolist() == pytest.approx(list(real.mean))
    # Explicit arguments win over the spec.
    ds = build_dataset("list", "val", annotations=ann, root=root, model="tiny", frames=3, size=32,
                       mean=(0.5,) * 3)
    assert (ds.frames, ds.transform.size, ds.transform.mean) == (3, 32, (0.5,) * 3)
    assert ds.transform.std == tuple(real.std)


def test_dataset_override_of_the_input_contract(monkeypatch):
    import litevid.models as models

    defaults = _model_defaults()
    ds = build_dataset("synthetic", num_clips=2)  # synthetic's entry: 112 pixels
    assert (ds.frames, ds.size) == (defaults["frames"], 112)
    assert ds.transform.mean == tuple(defaults["mean"])
    assert SyntheticVideoDataset(2).size == 112  # the class follows the same entry
    spec = dataclasses.replace(models.model_spec(models.list_models()[0]), frames=5, size=48)
    monkeypatch.setattr(models, "model_spec", lambda n: spec)
    ds = build_dataset("synthetic", num_clips=2, model="tiny")  # what the data is wins: its
    assert (ds.frames, ds.size) == (5, 112) and ds[0][0].shape == (3, 5, 112, 112)  # size
    from litevid.data import input_contract

    assert input_contract(model="tiny", dataset="k400", size=None)["size"] == 48  # no default
    assert build_dataset("synthetic", num_clips=2, model="tiny", size=24).size == 24


# ----------------------------------------------------------------------------- Table 3 on real files


def _check_json(tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "check.json"
    assert litevid_main(["data", "check", *args, "--json", str(out)]) == 0
    return json.loads(out.read_text())


@needs_shared
def test_table3_counts_from_real_annotations(tmp_path):
    a = SHARED_DATA / "annotations"
    ek_train = _check_json(tmp_path, "--format", "ek100", "--annotations",
                           str(a / "ek100" / "EPIC_100_train_list.txt"))
    heads = ek_train["heads"]
    assert ek_train["clips"] == 67217
    assert (heads["verb"]["classes_present"], heads["noun"]["classes_present"],
            heads["action"]["classes_present"]) == (97, 289, 3568)
    assert ek_train["duration_s"]["mean"] == pytest.approx(3.1, abs=0.15)
    ek_val = _check_json(tmp_path, "--format", "ek100", "--annotations",
                         str(a / "ek100" / "EPIC_100_validation.csv"))
    assert ek_val["clips"] == 9668
    # The same train list read as a plain list with two named labels.
    listed = _check_json(tmp_path, "--format", "list", "--label-names", "verb,noun",
                         "--annotations", str(a / "ek100" / "EPIC_100_train_list.txt"))
    assert listed["heads"]["verb+noun"]["classes_present"] == 3568
    ssv2_train = _check_json(tmp_path, "--format", "ssv2", "--annotations",
                             str(a / "ssv2" / "something-something-v2-train-list.txt"))
    ssv2_val = _check_json(tmp_path, "--format", "ssv2", "--annotations",
                           str(a / "ssv2" / "something-something-v2-validation.json"))
    assert (ssv2_train["clips"], ssv2_val["clips"]) == (168913, 24777)
    assert ssv2_train["heads"]["label"]["classes_present"] == 174
    assert ssv2_val["heads"]["label"]["classes_present"] == 174
    k400 = _check_json(tmp_path, "--format", "k400", "--annotations",
                       str(a / "k400" / "kinetics-400_val.csv"), "--labels",
                       str(a / "k400" / "label_map_k400.txt"))
    assert k400["clips"] == 19906 and k400["heads"]["label"]["classes_present"] == 400
    assert k400["duration_s"]["mean"] == pytest.approx(10.0, abs=0.05)


@needs_shared
def test_check_real_frame_folders():
    root = SHARED_DATA / "frames" / "demo_dataset"
    # annotations.txt says jumping/0001 ends at frame 17: that folder has img_00001..17 -> fine.
    assert litevid_main(["data", "check", "--format", "list", "--annotations",
                         str(root / "annotations.txt"), "--root", str(root)]) == 0


# ----------------------------------------------------------------------------- litevid data CLI


def test_check_with_root_lists_each_bad_clip(videos, tmp_path, capsys):
    root = tmp_path / "k400"
    root.mkdir()
    (root / "good_000000_000010.mp4").write_bytes(videos["mp4"].read_bytes())
    (root / "cut_000000_000010.mp4").write_bytes(videos["truncated"].read_bytes())
    csv_path = write_k400(tmp_path, [("a", "good", 0, 10, "val", 0), ("a", "cut", 0, 10, "val", 0),
                                     ("b", "gone", 0, 10, "val", 0)])
    out = tmp_path / "report.json"
    rc = litevid_main(["data", "check", "--format", "k400", "--annotations", str(csv_path),
                       "--root", str(root), "--json", str(out)])
    assert rc == 1
    report = json.loads(out.read_text())
    assert report["checked"] == {"root": str(root), "clips": 3, "bad": 2, "min_frames": 1}
    reasons = {b["path"]: b["reason"] for b in report["bad_clips"]}
    assert set(reasons) == {"cut_000000_000010.mp4", "gone_000000_000010.mp4"}
    assert "not found" in reasons["gone_000000_000010.mp4"]
    assert "cut_000000_000010.mp4" in reasons["cut_000000_000010.mp4"]
    printed = " ".join(capsys.readouterr().out.split())  # the console wraps long tmp paths
    assert "2 bad" in printed
    assert not list(tmp_path.glob(".report.json.*"))  # temporary file renamed away


def test_cli_bad_input_is_one_line_exit_2(tmp_path, capsys):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert litevid_main(["data", "check", "--format", "list", "--annotations", str(empty)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"litevid data: error: {empty}: no clips in the annotation file"
    assert litevid_main(["data", "bench", "--video", str(tmp_path / "none.mp4")]) == 2
    assert "none.mp4: video not found" in capsys.readouterr().err


def test_bench_times_through_the_harness_and_stores_its_row(videos, tmp_path, capsys):
    from litevid.results import ResultStore
    from litevid.results.stats import summarize

    row = bench_loader([videos["mp4"]], frames=4, size=32, clips=3, warmup=1)
    assert (row.mode, row.model, row.n, len(row.samples_ms)) == ("loader", "tsm_r50", 3, 3)
    assert row.input_shape == "3x4x32x32" and row.precision == "uint8"
    assert row.median_ms == pytest.approx(summarize(row.samples_ms).median)
    assert set(row.breakdown_ms) == {"info", "sample", "decode", "transform"}
    assert sum(row.breakdown_ms.values()) <= row.mean_ms * 1.01  # stages inside the timed step
    assert row.timer == "perf_counter" and row.cpu_s > 0 and row.device_type == "cpu"
    from litevid.models import model_spec

    spec, spec_row = model_spec("x3d_xs"), bench_loader([videos["mp4"]], model="x3d_xs", clips=1,
                                                        warmup=0, augment="off")
    assert spec_row.input_shape == f"3x{spec.frames}x{spec.size}x{spec.size}"  # from its spec
    out, db = tmp_path / "bench.json", tmp_path / "r.db"
    assert litevid_main(["data", "bench", "--video", str(videos["mkv"]), "--frames", "4", "--size",
                         "32", "--clips", "2", "--warmup", "0", "--augment", "off", "--eval",
                         "--json", str(out), "--db", str(db)]) == 0
    assert "clips/s wall" in capsys.readouterr().out
    assert json.loads(out.read_text())["input_shape"] == "3x4x32x32"
    with ResultStore(db, readonly=True) as store:
        (stored,) = store.rows(mode="loader")
    assert stored["n"] == 2 and stored["precision"] == "fp32" and stored["breakdown_ms"]


# ----------------------------------------------------------------------------- sampling


def test_tsn_sampling_takes_one_frame_per_segment():
    gen = torch.Generator().manual_seed(0)
    for n, t in [(300, 16), (16, 16), (17, 16), (100, 7)]:
        for _ in range(20):
            idx = tsn_indices(n, t, generator=gen)
            edges = np.arange(t + 1) * n // t
            assert len(idx) == t and np.all(np.diff(idx) > 0)  # strictly increasing when n >= T
            assert np.all((idx >= edges[:-1]) & (idx < edges[1:]))
    # Random within segments: several draws differ; same generator seed -> same draw.
    draws = {tuple(tsn_indices(300, 16, generator=gen)) for _ in range(5)}
    assert len(draws) > 1
    a = tsn_indices(300, 16, generator=torch.Generator().manual_seed(3))
    b = tsn_indices(300, 16, generator=torch.Generator().manual_seed(3))
    assert np.array_equal(a, b)


def test_uniform_sampling_takes_segment_centres_and_short_clips_repeat():
    assert uniform_indices(32, 16).tolist() == list(range(1, 32, 2))
    assert uniform_indices(160, 16).tolist() == list(range(5, 160, 10))
    for fn in (lambda n: uniform_indices(n, 16), lambda n: tsn_indices(n, 16)):
        idx = fn(5)
        assert len(idx) == 16 and np.all(np.diff(idx) >= 0) and set(idx.tolist()) == set(range(5))
    assert uniform_indices(1, 4).tolist() == [0, 0, 0, 0]
    with pytest.raises(ValueError, match="0 frames"):
        tsn_indices(0, 16)


# ----------------------------------------------------------------------------- transforms


def test_augmentation_uses_the_same_parameters_on_every_frame():
    torch.manual_seed(1)
    frame = np.random.default_rng(0).integers(0, 256, (40, 56, 3), dtype=np.uint8)
    frames = np.repeat(frame[None], 4, axis=0)
    config = AugmentConfig(affine_p=1.0, jitter_p=1.0, erasing_p=1.0)
    aug = VideoAugment(config, mean=(0.45,) * 3, std=(0.225,) * 3)
    transform = ClipTransform(32, short_side=36, train=True, flip=True, augment=aug)
    outs = [transform(frames) for _ in range(3)]
    for clip in outs:
        assert clip.shape == (3, 4, 32, 32) and clip.dtype == torch.float32
        for t in range(1, 4):
            torch.testing.assert_close(clip[:, t], clip[:, 0])
    assert not torch.allclose(outs[0], outs[1])  # but a new draw per clip
    # The batch path: per-clip parameters, same on each frame of the clip.
    batch = torch.from_numpy(frames).permute(3, 0, 1, 2)[None].repeat(2, 1, 1, 1, 1)
    out = aug.train()(batch)
    for t in range(1, 4):
        torch.testing.assert_close(out[:, :, t], out[:, :, 0])


def test_eval_transform_is_a_centre_crop_normalised_with_the_spec():
    frames = np.zeros((2, 40, 60, 3), np.uint8)
    frames[:, 4:36, 14:46] = 255  # the centre 32x32 block
    mean, std = (0.45, 0.45, 0.45), (0.225, 0.225, 0.225)
    clip = ClipTransform(32, short_side=40, train=False, mean=mean, std=std)(frames)
    torch.testing.assert_close(clip, torch.full((3, 2, 32, 32), (1 - 0.45) / 0.225))
    # Resize on uint8 when the frames are not at the short side yet.
    assert ClipTransform(32, short_side=36, train=False)(frames).shape == (3, 2, 32, 32)
    assert ClipTransform(32, short_side=36, output="uint8")(frames).dtype == torch.uint8
    with pytest.raises(ValueError, match="smaller than the crop"):
        ClipTransform(224, short_side=200)
    with pytest.raises(ValueError, match=r"\(B, 3, T, H, W\)"):
        VideoAugment(None, mean=mean, std=std)(torch.zeros(3, 4, 8, 8))


def test_flip_is_configurable_per_dataset():
    assert default_augment("k400").flip and default_augment("ek100").flip
    assert not default_augment("ssv2").flip  # labels say "from left to right"
    assert not default_augment("synthetic").flip
    frames = np.zeros((1, 32, 32, 3), np.uint8)
    frames[:, :, :8] = 255  # bright left edge
    no_flip = ClipTransform(32, short_side=32, train=True, flip=False, output="uint8")
    assert all(no_flip(frames)[0, 0, 0, 0] == 255 for _ in range(20))
    flip = ClipTransform(32, short_side=32, train=True, flip=True, output="uint8")
    assert {int(flip(frames)[0, 0, 0, 0]) for _ in range(40)} == {0, 255}


# ----------------------------------------------------------------------------- synthetic dataset


def test_synthetic_is_deterministic_balanced_and_motion_only():
    a = build_dataset("synthetic", "train", num_clips=10, num_classes=4, frames=4, size=32, seed=7)
    b = build_dataset("synthetic", "train", num_clips=10, num_classes=4, frames=4, size=32, seed=7)
    c = build_dataset("synthetic", "train", num_clips=10, num_classes=4, frames=4, size=32, seed=8)
    x, y = a[3]
    assert x.shape == (3, 4, 32, 32) and isinstance(y, int)
    torch.testing.assert_close(a[3][0], b[3][0], rtol=0, atol=0)
    assert not torch.equal(a[3][0], c[3][0])
    assert sorted(np.bincount(a.labels, minlength=4).tolist()) == [2, 2, 3, 3]
    val = build_dataset("synthetic", "val", num_clips=10, num_classes=4, frames=4, size=32, seed=7)
    assert not torch.equal(val[3][0], a[3][0])  # splits draw different clips
    # Classes come in time-reversed pairs: the same draw, played backwards, is the other class.
    for first in (0, 2, 4, 6, 8, 10):
        fwd = render_motion_clip(first, frames=6, size=32, rng=np.random.default_rng(11))
        back = render_motion_clip(first + 1, frames=6, size=32, rng=np.random.default_rng(11))
        assert np.array_equal(fwd[::-1], back), SYNTHETIC_CLASSES[first]
        assert not np.array_equal(fwd[0], fwd[-1])  # and it does move
    with pytest.raises(ValueError, match="num_classes must be 2..12"):
        build_dataset("synthetic", num_classes=13)


# ----------------------------------------------------------------------------- datasets and loaders


@pytest.fixture()
def list_dataset_files(tmp_path, videos):
    root = tmp_path / "data"
    write_frames(root / "jumping" / "0001", 20)
    write_frames(root / "running" / "0001", 6)
    (root / "v.mp4").write_bytes(videos["mp4"].read_bytes())
    ann = tmp_path / "train.txt"
    ann.write_text("jumping/0001 1 20 0\nrunning/0001 1 6 1\nv.mp4 0 29 1\n")
    return root, ann


def test_list_dataset_through_a_dataloader_with_workers(list_dataset_files):
    root, ann = list_dataset_files
    ds = build_dataset("list", "train", annotations=ann, root=root, frames=4, size=32,
                       short_side=40)
    ds[2]  # decode a video in the parent first: forked workers must not reuse its swscale state
    loader = torch.utils.data.DataLoader(ds, batch_size=3, num_workers=2)
    (x, y), = list(loader)
    assert x.shape == (3, 3, 4, 32, 32) and x.dtype == torch.float32 and y.tolist() == [0, 1, 1]
    val = build_dataset("list", "val", annotations=ann, root=root, frames=4, size=32,
                        short_side=32, augment="off")
    # Eval takes segment centres: frames 3, 8, 13, 18 of jumping/0001 (files img_00003...).
    raw = read_video_frames(root / "jumping" / "0001", 1 + uniform_indices(20, 4))
    assert [read_index(f) for f in raw] == [3, 8, 13, 18]
    expected = ClipTransform(32, short_side=32, train=False)(raw)
    torch.testing.assert_close(val[0][0], expected)


def test_batch_augment_mode_defers_kornia_to_the_batch(list_dataset_files):
    root, ann = list_dataset_files
    ds = build_dataset("list", "train", annotations=ann, root=root, frames=4, size=32,
                       short_side=36, augment="batch")
    clip, _ = ds[2]
    assert clip.dtype == torch.uint8 and clip.shape == (3, 4, 32, 32)
    out = ds.batch_transform(clip[None])
    assert out.dtype == torch.float32 and out.shape == (1, 3, 4, 32, 32)


def test_bad_clips_are_skipped_counted_and_logged(list_dataset_files, caplog):
    root, ann = list_dataset_files
    ann.write_text("jumping/0001 1 20 0\nmissing/0001 1 10 1\nv.mp4 0 99 1\nrunning/0001 1 6 1\n")
    ds = build_dataset("list", "val", annotations=ann, root=root, frames=4, size=32, short_side=32)
    with caplog.at_level(logging.WARNING, logger="litevid.data"):
        _, label = ds[1]  # missing folder -> too-short video -> running/0001
    assert label == 1 and ds.skipped == 2
    assert "missing/0001: frame folder not found" in caplog.text and "too short" in caplog.text
    loader = torch.utils.data.DataLoader(ds, batch_size=4, num_workers=2)
    list(loader)
    # Item 1 skips two bad clips, item 2 one more: counted across the worker processes too.
    assert ds.skipped == 2 + 3
    strict = build_dataset("list", "val", annotations=ann, root=root, frames=4, size=32,
                           short_side=32, on_error="raise")
    with pytest.raises(FileNotFoundError, match="missing/0001"):
        strict[1]


def test_k400_and_ek100_datasets(tmp_path, videos):
    root = tmp_path / "k400"
    root.mkdir()
    (root / "abc_000001_000011.mp4").write_bytes(videos["mp4"].read_bytes())
    csv_path = write_k400(tmp_path, [("a", "abc", 1, 11, "val", 0)])
    ds = build_dataset("k400", "val", annotations=csv_path, root=root, frames=8, size=32)
    assert ds[0][0].shape == (3, 8, 32, 32) and ds[0][1] == 0
    files = write_ek100(tmp_path)
    write_frames(tmp_path / "ek" / "P01" / "rgb_frames" / "P01_11", 150, name="frame_{:010d}.jpg")
    with pytest.raises(ValueError, match="train_annotations"):
        build_dataset("ek100", "val", annotations=files["val"], root=tmp_path / "ek")
    ek = build_dataset("ek100", "val", annotations=files["val"], train_annotations=files["train"],
                       root=tmp_path / "ek", frames=4, size=32)
    clip, target = ek[0]
    assert clip.shape == (3, 4, 32, 32) and target == {"verb": 0, "noun": 2, "action": 1}
    assert ek.num_classes == {"verb": 3, "noun": 3, "action": 3}
    assert not build_dataset("ssv2", "train", annotations=write_ssv2(tmp_path)[1]).transform.flip
    with pytest.raises(ValueError, match="needs annotations=PATH"):
        build_dataset("k400")
    with pytest.raises(ValueError, match="unknown dataset 'kinetics'"):
        build_dataset("kinetics")


def test_each_item_opens_and_demuxes_its_video_once(tmp_path, videos, monkeypatch):
    """Frame count (header for mp4, demuxing for mkv and raw H.264) and decoding share one
    container; the raw stream also takes the fallback path on it."""
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"Pushing something": "0", "Pulling something": "1"}))
    names = {"mp4": "clip.mp4", "mkv": "clip.mkv", "h264": "clip.h264"}
    for kind, name in names.items():
        (tmp_path / name).write_bytes(videos[kind].read_bytes())
    val = tmp_path / "val.json"
    val.write_text(json.dumps([{"id": n, "template": "Pulling [something]"}
                               for n in names.values()]))
    ds = build_dataset("ssv2", "val", annotations=val, labels=labels, root=tmp_path,
                       filename_template="{id}", frames=4, size=32, augment="batch")
    expected = [read_video_frames(tmp_path / n, uniform_indices(N, 4),
                                  short_side=ds.transform.short_side)
                for n in names.values()]
    real_open, opened = av.open, []
    monkeypatch.setattr(av, "open", lambda *a, **k: opened.append(Path(a[0]).name)
                        or real_open(*a, **k))
    for i, name in enumerate(names.values()):
        opened.clear()
        clip, label = ds[i]
        assert opened == [name] and label == 1
        torch.testing.assert_close(clip, ds.transform(expected[i]))
        opened.clear()
        assert check_clip(ds.records[i], str(tmp_path)) is None and opened == [name]
    assert ds.skipped == 0
