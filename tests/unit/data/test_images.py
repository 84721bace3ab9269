"""Image folders as users have them (pipeline/data/images.py): every mode and format Pillow
writes, non-square images, transparency, EXIF orientation, bad files and duplicates, on real
files that each test writes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.data.images import Decoding, FolderSplit, check_unreadable, scan_folder
from pipeline.errors import PipelineError

RED, BLUE = (255, 0, 0), (0, 0, 255)


@dataclass
class Folder:
    images: np.ndarray
    class_names: list[str]
    report: dict


def read_folder(root: Path, size: int, channels: int, **decoding) -> Folder:
    """A whole folder decoded into memory, through the very rows prepare writes."""
    scan = scan_folder(root)
    settings = Decoding(size, channels, **decoding)
    report = dict(scan.report)
    rows = list(FolderSplit(scan, scan.files, scan.labels, settings).rows(report))
    check_unreadable(report, settings)
    return Folder(np.stack([pixels for pixels, _ in rows]), scan.class_names, report)


def circle(width: int, height: int, radius: int) -> Image.Image:
    """A white disc centred on black: its extent shows whether the aspect ratio was kept."""
    y, x = np.mgrid[:height, :width]
    inside = (x - width / 2 + 0.5) ** 2 + (y - height / 2 + 0.5) ** 2 <= radius**2
    return Image.fromarray((inside * 255).astype(np.uint8), "L").convert("RGB")


def extent(image: np.ndarray) -> tuple[int, int]:
    """(width, height) of the bright pixels."""
    ys, xs = np.nonzero(image.mean(axis=-1) > 127)
    return xs.max() - xs.min() + 1, ys.max() - ys.min() + 1


@pytest.mark.parametrize(
    ("resize", "ratio"), [("center_crop", 1.0), ("pad", 1.0), ("stretch", 0.75)]
)
def test_a_non_square_photo_keeps_its_aspect_ratio_unless_stretched(tmp_path, resize, ratio):
    """96x72 with a centred circle of radius 30, to 64x64: cropped and padded it stays a circle,
    stretched it becomes an ellipse of width/height 0.75."""
    circle(96, 72, 30).save(tmp_path / "a.png")
    folder = read_folder(tmp_path, 64, 3, resize=resize)
    width, height = extent(folder.images[0])
    assert width / height == pytest.approx(ratio, abs=0.05)


def test_pad_letterboxes_on_the_pad_colour(tmp_path):
    Image.new("RGB", (80, 40), RED).save(tmp_path / "wide.png")
    [image] = read_folder(tmp_path, 32, 3, resize="pad", pad_color=(0, 0, 255)).images
    assert (image[:7] == BLUE).all() and (image[-7:] == BLUE).all(), "bars above and below"
    assert (image[12:20] == RED).all(), "the whole image in the middle"


def test_center_crop_takes_the_centre(tmp_path):
    image = Image.new("RGB", (90, 30), RED)
    image.paste(Image.new("RGB", (30, 30), BLUE), (30, 0))
    image.save(tmp_path / "a.png")
    [square] = read_folder(tmp_path, 16, 3, resize="center_crop").images
    assert (square == BLUE).all()


def write_every_mode(folder: Path) -> dict[str, str]:
    """One image per Pillow mode and file format a user may bring; returns file -> mode."""
    folder.mkdir(parents=True, exist_ok=True)
    rgb = Image.new("RGB", (20, 10), RED)
    files = {
        "grey.png": rgb.convert("L"),
        "grey_alpha.png": rgb.convert("LA"),
        "rgb.JPG": rgb,  # an upper-case extension
        "rgba.png": rgb.convert("RGBA"),
        "palette.gif": rgb.convert("P"),
        "bilevel.bmp": rgb.convert("1"),
        "cmyk.jpg": rgb.convert("CMYK"),
        "picture.webp": rgb,
        "scan.tiff": rgb,
        "depth16.png": Image.fromarray(np.full((10, 20), 40000, np.uint16)),
    }
    for name, image in files.items():
        image.save(folder / name)
    return {name: image.mode for name, image in files.items()}


@pytest.mark.parametrize("channels", [1, 3])
def test_every_mode_and_format_is_read_into_the_channels_asked_for(tmp_path, channels):
    written = write_every_mode(tmp_path / "all")
    folder = read_folder(tmp_path / "all", 8, channels, on_bad_file="fail")
    assert folder.images.shape == (len(written), 8, 8, channels)
    assert folder.images.dtype == np.uint8
    assert set(folder.report["modes_seen"]) >= {"L", "LA", "RGB", "RGBA", "P", "1", "CMYK"}
    assert folder.report["sizes_seen"] == {"20x10": len(written)}
    by_name = dict(zip(sorted(written, key=str.lower), folder.images, strict=True))
    sixteen = by_name["depth16.png"]
    assert abs(int(sixteen.mean()) - round(40000 / 65535 * 255)) <= 1, "16 bits scaled to 8"


def test_transparent_pixels_never_leak_their_hidden_colour(tmp_path):
    """A PNG whose transparent half hides pure red: the red must not reach the data."""
    pixels = np.zeros((8, 16, 4), np.uint8)
    pixels[:, :8] = (255, 0, 0, 0)  # invisible red
    pixels[:, 8:] = (0, 255, 0, 255)  # visible green
    Image.fromarray(pixels, "RGBA").save(tmp_path / "a.png")
    [image] = read_folder(tmp_path, 16, 3, resize="stretch", pad_color=(255, 255, 255)).images
    assert (image[:, :6] == 255).all(), "the transparent half is the background (white)"
    assert image[..., 0].max() < 255 or (image[:, :6] == 255).all()
    assert (image[:, 10:] == (0, 255, 0)).all()


def test_exif_orientation_is_applied(tmp_path):
    """A landscape JPEG tagged "rotate 90": read as a portrait (the bright strip moves)."""
    image = Image.new("RGB", (40, 20), (0, 0, 0))
    image.paste(Image.new("RGB", (10, 20), (255, 255, 255)), (0, 0))  # a strip on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    image.save(tmp_path / "a.jpg", exif=exif, quality=95)
    [square] = read_folder(tmp_path, 20, 1, resize="pad").images
    rows_bright = square[..., 0].mean(axis=1) > 127
    assert rows_bright[:4].all() and not rows_bright[-4:].any(), "the strip is now on top"


def test_an_animation_gives_its_first_frame(tmp_path):
    frames = [Image.new("RGB", (8, 8), RED), Image.new("RGB", (8, 8), BLUE)]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:])
    [image] = read_folder(tmp_path, 8, 3).images
    assert image[..., 0].mean() > 200 and image[..., 2].mean() < 50


def test_every_bad_file_is_named_at_once_or_skipped_and_listed(tmp_path):
    write_every_mode(tmp_path / "cats")
    (tmp_path / "cats" / "broken.jpg").write_bytes(b"not a jpeg")
    (tmp_path / "cats" / "empty.png").write_bytes(b"")
    with pytest.raises(PipelineError) as refused:
        read_folder(tmp_path, 8, 3, on_bad_file="fail")
    message = str(refused.value)
    assert "2 of 12 files" in message and "broken.jpg" in message and "empty.png" in message
    assert "dataset.on_bad_file=skip" in refused.value.fix
    folder = read_folder(tmp_path, 8, 3, on_bad_file="skip")
    assert len(folder.images) == 10
    assert sorted(s["file"] for s in folder.report["skipped"]) == [
        "cats/broken.jpg",
        "cats/empty.png",
    ]


def test_exact_duplicates_are_kept_once_and_counted(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    Image.new("RGB", (8, 8), RED).save(tmp_path / "a" / "1.png")
    (tmp_path / "a" / "copy.png").write_bytes((tmp_path / "a" / "1.png").read_bytes())
    (tmp_path / "b" / "same_bytes.png").write_bytes((tmp_path / "a" / "1.png").read_bytes())
    Image.new("RGB", (8, 8), BLUE).save(tmp_path / "b" / "2.png")
    folder = read_folder(tmp_path, 8, 3)
    assert len(folder.images) == 2 and folder.class_names == ["a", "b"]
    assert {d["file"] for d in folder.report["duplicates"]} == {"a/copy.png", "b/same_bytes.png"}


def test_images_beside_class_folders_are_refused(tmp_path):
    (tmp_path / "cats").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "cats" / "1.png")
    Image.new("RGB", (8, 8)).save(tmp_path / "stray.png")
    with pytest.raises(PipelineError, match="beside class sub-folders") as refused:
        read_folder(tmp_path, 8, 3)
    assert "move them into a class sub-folder" in refused.value.fix


def test_other_files_are_listed_not_read(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "1.png")
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / ".DS_Store").write_bytes(b"\0")
    folder = read_folder(tmp_path, 8, 3)
    assert folder.report["not_images"] == ["notes.txt"] and folder.class_names == ["all"]


def test_a_real_colour_photo_folder_prepares_with_its_report(tmp_path):
    """Crops of a real photo (matplotlib's grace_hopper.jpg, 512x600): non-square pictures of
    two classes through the prepare stage; the report counts them per class and split."""
    import matplotlib

    from pipeline.stages.prepare import prepare
    from tests.helpers.configs import compose_config, output_overrides, validate_all

    photo = Image.open(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg")
    for cls, box in (("face", (150, 100, 390, 280)), ("uniform", (50, 330, 450, 600))):
        (tmp_path / "raw" / cls).mkdir(parents=True)
        for i in range(6):
            photo.crop((box[0] + i, box[1], box[2] + i, box[3])).save(
                tmp_path / "raw" / cls / f"{i}.jpg"
            )
    cfg = validate_all(compose_config([
        "dataset=image_folder", f"dataset.raw_dir={tmp_path / 'raw'}", "dataset.image_size=32",
        *output_overrides(tmp_path),
    ]))  # fmt: skip
    meta = prepare(cfg)
    assert meta["shape"] == [32, 32, 3] and meta["class_names"] == ["face", "uniform"]
    assert meta["title"] == "raw", "named after its folder (register: raw-generator)"
    report = json.loads((tmp_path / "metrics" / "prepare.json").read_text())
    assert report["per_class"]["train"]["face"] + report["per_class"]["test"]["face"] == 6
    assert report["sizes_seen"] == {"240x180": 6, "400x270": 6}
    assert report["resize"] == "center_crop" and report["skipped"] == []
    summary = (tmp_path / "metrics" / "prepare.md").read_text()
    assert "| face |" in summary and "center_crop" in summary


def test_a_folder_prepared_at_one_size_is_refused_at_another(tmp_path):
    """Training at dataset.image_size=64 on data prepared at 32 would silently train at 32."""
    from pipeline.data.prepared import load_prepared
    from pipeline.stages.prepare import prepare
    from tests.helpers.configs import compose_config, output_overrides, validate_all

    for cls in ("a", "b"):
        (tmp_path / "raw" / cls).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (10, 10), (i * 40, 0, 0)).save(tmp_path / "raw" / cls / f"{i}.png")
    base = [
        "dataset=image_folder",
        f"dataset.raw_dir={tmp_path / 'raw'}",
        *output_overrides(tmp_path),
    ]
    prepare(validate_all(compose_config([*base, "dataset.image_size=32"])))
    same = validate_all(compose_config([*base, "dataset.image_size=32"]))
    assert load_prepared(tmp_path / "prepared", dataset=same.dataset).meta["shape"] == [32, 32, 3]
    other = validate_all(compose_config([*base, "dataset.image_size=64"]))
    with pytest.raises(
        PipelineError, match="prepared with dataset.image_size=32.*asks for dataset.image_size=64"
    ) as refused:
        load_prepared(tmp_path / "prepared", dataset=other.dataset)
    assert "prepare it again" in refused.value.fix


def test_titles_are_safe_in_a_model_uri():
    from pipeline.data.prepared import RawDataset
    from pipeline.data.writer import title_of

    raw = RawDataset("image_folder", (None, None), (None, None), [], {}, title="My Photos!")
    assert title_of(raw) == "My_Photos" and title_of(raw, "flowers") == "flowers"
    assert title_of(RawDataset("mnist", (None, None), (None, None), [], {})) == "mnist"


def test_a_skipped_file_leaves_a_loadable_file_of_the_rows_written(tmp_path):
    """The prepared file's header is written for every file found; when one is skipped the file
    is rewritten with the true count (pipeline.data.writer.RowWriter)."""
    from pipeline.data.images import Decoding, FolderSplit, scan_folder
    from pipeline.data.writer import write_folder_split

    for i in range(5):
        Image.new("RGB", (8, 8), (i * 50, 0, 0)).save(tmp_path / f"{i}.png")
    (tmp_path / "9.png").write_bytes(b"broken")
    scan = scan_folder(tmp_path)
    split = FolderSplit(scan, scan.files, scan.labels, Decoding(8, 3, on_bad_file="skip"))
    (tmp_path / "out").mkdir()
    report: dict = {}
    labels = write_folder_split(split, tmp_path / "out", "train", report)
    images = np.load(tmp_path / "out" / "train_images.npy")
    assert images.shape == (5, 8, 8, 3) and images.dtype == np.uint8 and len(labels) == 5
    assert [row[0, 0, 0] for row in images] == [0, 50, 100, 150, 200]
    assert [s["file"] for s in report["skipped"]] == ["9.png"] and report["images_kept"] == 5
    assert not list((tmp_path / "out").glob("*.rows")), "the scratch file is gone"


def test_bad_files_of_both_splits_are_named_in_one_error(tmp_path):
    """Prepare decodes the train split, then the test split: a bad file in each is named in one
    error, after both were tried, and nothing is written."""
    from pipeline.data.readers import read_image_folder
    from pipeline.data.settings import ImageFolderConfig
    from pipeline.data.specs import DATASETS
    from pipeline.data.writer import write_prepared

    (tmp_path / "raw").mkdir()
    for i in range(10):
        Image.new("RGB", (8, 8), (i * 20, 0, 0)).save(tmp_path / "raw" / f"{i}.png")
    for name in ("bad1.png", "bad2.jpg", "bad3.webp", "bad4.png"):
        (tmp_path / "raw" / name).write_bytes(b"broken " + name.encode())
    cfg = ImageFolderConfig(name="image_folder", raw_dir=None, limit=None, title=None,
                            image_size=8, channels=3, resize="center_crop", pad_color=[0, 0, 0],
                            on_bad_file="fail", test_fraction=0.5, split_seed=0)  # fmt: skip
    raw = read_image_folder(DATASETS.get("image_folder"), cfg, tmp_path / "raw")
    splits = [raw.train[0].files, raw.test[0].files]
    assert all(any(p.name.startswith("bad") for p in files) for files in splits), "both splits"
    with pytest.raises(PipelineError, match="4 of 14 files") as refused:
        write_prepared(raw, tmp_path / "prepared")
    assert all(name in str(refused.value) for name in ("bad1", "bad2", "bad3", "bad4"))
    assert not (tmp_path / "prepared").exists()
