"""A user's own colour photos at 64x64, end to end through the stage commands: a folder of
non-square pictures (crops of real photos, and drawn circles whose shape shows the aspect ratio
kept) goes through prepare -> classifier -> train -> evaluate -> register -> generate with
`experiment=folder64`; the generator follows the resolution, the registered name comes from the
folder, and generate asks for a class by its name."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient
from PIL import Image, ImageDraw

from tests.helpers.processes import run_module

SMALL = [
    # a few steps of training, a small protocol the 27 test images and 8 features allow
    "training.steps_per_epoch=6", "training.epochs=1", "training.batch_size=8",
    "monitor.log_every_steps=3", "monitor.sample_every_steps=3", "monitor.num_samples=9",
    "monitor.probe_every_steps=0", "compute.steps_per_execution=1",
    "evaluation.classifier.epochs=1", "evaluation.classifier.feature_dim=8",
    "evaluation.num_generated=60", "evaluation.num_real=60", "evaluation.batch_size=30",
    "evaluation.kid_subsets=5", "evaluation.kid_subset_size=20",
    "evaluation.memorisation_samples=8",
    "evaluation.utility.generated_per_class=10", "evaluation.utility.steps=10",
]  # fmt: skip
PER_CLASS = 30


def photo_folder(root: Path) -> Path:
    """holiday/{china,flower,circles}: 120x90 crops of scikit-learn's two sample photos, and
    circles drawn on 120x90 canvases (stretched to a square they would be ellipses)."""
    import sklearn

    images = Path(sklearn.__file__).parent / "datasets" / "images"
    folder = root / "holiday"
    for name in ("china", "flower"):
        (folder / name).mkdir(parents=True)
        photo = Image.open(images / f"{name}.jpg")
        for i in range(PER_CLASS):
            left, top = 40 + 13 * (i % 6), 60 + 17 * (i // 6)
            photo.crop((left, top, left + 120, top + 90)).save(folder / name / f"{i:02}.jpg")
    (folder / "circles").mkdir()
    for i in range(PER_CLASS):
        canvas = Image.new("RGB", (120, 90), (240, 240, 240))
        radius = 20 + i % 20
        ImageDraw.Draw(canvas).ellipse(
            (60 - radius, 45 - radius, 60 + radius, 45 + radius), fill=(20 + 7 * i, 40, 160)
        )
        canvas.save(folder / "circles" / f"{i:02}.png")
    return folder


def blob_aspect(image: np.ndarray) -> float:
    """Width over height of the dark shape on a light background."""
    dark = image.mean(axis=-1) < 180
    rows, cols = np.flatnonzero(dark.any(axis=1)), np.flatnonzero(dark.any(axis=0))
    return (cols[-1] - cols[0] + 1) / (rows[-1] - rows[0] + 1)


@pytest.fixture(scope="module")
def flow(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("photos")
    folder = photo_folder(tmp)
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    common = [
        "experiment=folder64", f"dataset.raw_dir={folder}", "dataset.test_fraction=0.3",
        *[f"paths.{k}={tmp / k}" for k in ("raw", "prepared", "models", "metrics", "plots",
                                          "checkpoints", "classifier", "cache")],
        f"tracking.uri={uri}", *SMALL,
    ]  # fmt: skip
    logs = {}
    for stage in ("prepare", "classifier", "train", "evaluate", "register"):
        result = run_module(f"pipeline.stages.{stage}", *common,
                            f"hydra.run.dir={tmp / 'hydra' / stage}")  # fmt: skip
        assert result.returncode == 0, f"{stage}: {result.stderr[-3000:]}"
        logs[stage] = result.stdout + result.stderr
    generated = tmp / "generated.npz"
    result = run_module(
        "pipeline.stages.generate", *common, "generate.label=flower", "generate.num_images=5",
        "generate.format=npz", f"generate.output={generated}",
        f"hydra.run.dir={tmp / 'hydra' / 'generate'}",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return tmp, uri, generated, logs


def test_prepare_keeps_the_aspect_ratio_of_non_square_photos(flow):
    tmp, *_ = flow
    meta = json.loads((tmp / "prepared" / "meta.json").read_text())
    assert meta["shape"] == [64, 64, 3] and meta["class_names"] == ["china", "circles", "flower"]
    report = json.loads((tmp / "metrics" / "prepare.json").read_text())
    assert report["sizes_seen"] == {"120x90": 3 * PER_CLASS} and report["resize"] == "center_crop"
    circles = meta["class_names"].index("circles")
    for split in ("train", "test"):
        images = np.load(tmp / "prepared" / f"{split}_images.npy")
        labels = np.load(tmp / "prepared" / f"{split}_labels.npy")
        aspects = [blob_aspect(image) for image in images[labels == circles]]
        assert aspects and all(abs(a - 1) < 0.1 for a in aspects), aspects  # stretched: 0.75


def test_the_generator_follows_the_resolution_and_is_registered_under_the_folders_name(flow):
    tmp, uri, generated, _ = flow
    client = MlflowClient(uri)
    version = client.get_model_version_by_alias("holiday-generator", "champion")
    run = client.get_run(version.run_id)
    assert run.data.params["dataset.image_size"] == "64"
    assert run.data.params["augment.ada_target"] == "0.6"
    assert [m.step for m in client.get_metric_history(version.run_id, "train/aug_p")] == [3, 6]
    import keras

    from pipeline.gan.recalibrate import all_layers

    generator = keras.saving.load_model(tmp / "models" / "generator.keras", compile=False)
    transposed = [layer.output.shape[1:] for layer in all_layers(generator)
                  if layer.__class__.__name__ == "Conv2DTranspose"]  # fmt: skip
    assert transposed == [(8, 8, 256), (16, 16, 128), (32, 32, 64), (64, 64, 3)]
    scores = json.loads((tmp / "metrics" / "eval.json").read_text())
    assert scores["data_title"] == "holiday" and np.isfinite(scores["fid"])
    # the stage's downstream utility, and the card on the version naming its weakest class
    assert all(0 <= scores[f"utility_{k}"] <= 1 for k in ("real", "augmented", "synthetic"))
    card = (tmp / "metrics" / "model_card.md").read_text()
    assert card.startswith("# holiday-generator v1: champion") and "Weakest classes" in card
    images = np.load(generated)
    array = images[images.files[0]]
    assert array.shape == (5, 64, 64, 3)
