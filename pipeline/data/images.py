"""Image folders as users have them: any size, shape and mode, decoded to squares of one size.

``scan_folder`` finds every image under a folder (one sub-folder per class, or all in the
folder itself for one class) and hashes it, so that exact duplicates are kept once; a
``FolderSplit`` then decodes its files as prepare writes them, in parallel threads (Pillow
releases the GIL while it decodes and resizes), with a progress bar on a terminal. Each image:

- has its EXIF orientation applied, and its first frame taken (GIF, multi-page TIFF);
- is composited onto ``pad_color`` where it is transparent (RGBA, LA, P with transparency), so
  the colours hidden under transparent pixels never reach the data; 16-bit and CMYK images are
  converted to 8-bit RGB;
- becomes a square of ``image_size``: ``center_crop`` takes the centred square of the shorter
  side (StyleGAN's dataset tool does the same), ``pad`` letterboxes the whole image on
  ``pad_color``, ``stretch`` squashes it (aspect ratio lost);
- is converted to ``channels`` (1: greyscale, 3: RGB).

Files that cannot be read are all listed in one error (``on_bad_file="fail"``) or skipped and
listed in the report (``"skip"``); exact duplicates (the same bytes) are kept once and counted.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import PipelineError
from pipeline.io import progress

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif")
RESIZE_MODES = ("center_crop", "pad", "stretch")
SHOWN = 20  # bad files named in an error or a summary before "... and N more"


@dataclass
class Decoded:
    """What one file gave: its pixels (None: unreadable, with the reason) and what it was."""

    path: Path
    pixels: np.ndarray | None = None
    size: tuple[int, int] | None = None  # (width, height) as stored, before any resize
    mode: str = ""
    problem: str = ""


@dataclass(eq=False)
class Scan:
    """A folder's images found, hashed and de-duplicated, not yet decoded."""

    root: Path
    files: list[Path]  # the first of each set of identical files, sorted
    labels: np.ndarray  # int32, one per file
    class_names: list[str]
    sha256: dict[str, str]  # relative path -> sha256, every image file found
    report: dict[str, Any]  # files found, duplicates, files that are not images


@dataclass
class Decoding:
    """How a folder's images become rows: the settings of ``decode``."""

    image_size: int
    channels: int
    resize: str = "center_crop"
    pad_color: Sequence[int] = (0, 0, 0)
    on_bad_file: str = "fail"

    def __post_init__(self) -> None:
        if self.resize not in RESIZE_MODES:
            raise PipelineError(
                f"unknown dataset.resize {self.resize!r}", f"use one of {RESIZE_MODES}"
            )
        self.background = _color(self.pad_color)

    @property
    def row_shape(self) -> tuple[int, int, int]:
        return (self.image_size, self.image_size, self.channels)


@dataclass(eq=False)
class FolderSplit:
    """Files of one split and how to decode them: what prepare streams into the prepared
    format (``rows``), never holding more than a chunk of decoded images."""

    scan: Scan
    files: list[Path]
    labels: np.ndarray
    decoding: Decoding

    def __len__(self) -> int:
        return len(self.files)

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.files), *self.decoding.row_shape)

    def limited(self, limit: int | None) -> FolderSplit:
        return FolderSplit(self.scan, self.files[:limit], self.labels[:limit], self.decoding)

    def rows(self, report: dict[str, Any], chunk: int = 256) -> Iterator[tuple[np.ndarray, int]]:
        """(pixels, label) of every readable file, in order, decoded in parallel threads a
        chunk at a time; unreadable ones are listed in ``report["skipped"]`` (with
        ``on_bad_file="fail"`` no row is given after the first, and ``check_unreadable`` names
        them all once every split was tried)."""
        d, root = self.decoding, self.scan.root
        bad: list[Decoded] = []
        sizes: Counter[str] = Counter(report.get("sizes_seen", {}))
        modes: Counter[str] = Counter(report.get("modes_seen", {}))

        def work(path: Path) -> Decoded:
            return decode(path, d.image_size, d.channels, d.resize, d.background)

        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            bar = _progress(len(self.files), f"decoding {root}")
            for start in range(0, len(self.files), chunk):
                for decoded, label in zip(
                    pool.map(work, self.files[start : start + chunk]),
                    self.labels[start : start + chunk],
                    strict=True,
                ):
                    bar.update()
                    if decoded.pixels is None:
                        bad.append(decoded)
                        continue
                    sizes[f"{decoded.size[0]}x{decoded.size[1]}"] += 1  # type: ignore[index]
                    modes[decoded.mode] += 1
                    if not (bad and d.on_bad_file == "fail"):  # else only looking for more
                        yield decoded.pixels, int(label)
            bar.close()
        report["sizes_seen"] = dict(sizes.most_common(10))
        report["modes_seen"] = dict(modes.most_common(10))
        report.setdefault("skipped", []).extend(
            {"file": _rel(b.path, root), "reason": b.problem} for b in bad
        )


def check_unreadable(report: dict[str, Any], decoding: Decoding) -> None:
    """With ``on_bad_file="fail"``, one error naming every file that could not be read."""
    bad = report.get("skipped", [])
    if not bad or decoding.on_bad_file != "fail":
        return
    listed = "; ".join(f"{b['file']} ({b['reason']})" for b in bad[:SHOWN])
    more = f"; and {len(bad) - SHOWN} more" if len(bad) > SHOWN else ""
    raise PipelineError(
        f"{len(bad)} of {report['files_found']} files in {report['folder']} cannot be read as "
        f"images: {listed}{more}",
        "remove or replace them, or set dataset.on_bad_file=skip to leave them out (they are "
        "listed in metrics/prepare.json)",
    )


def scan_folder(root: Path) -> Scan:
    """Every image file under ``root``, hashed (in parallel threads) so that exact duplicates
    are kept once: the first in sorted order."""
    root = Path(root)
    files, class_of, others = find_images(root)
    classes = sorted(set(class_of))

    def digest(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        digests = list(pool.map(digest, files))
    first_of: dict[str, Path] = {}
    keep: list[int] = []
    duplicates: list[dict[str, str]] = []
    for i, (path, sha) in enumerate(zip(files, digests, strict=True)):
        if sha in first_of:
            duplicates.append({"file": _rel(path, root), "same_as": _rel(first_of[sha], root)})
        else:
            first_of[sha] = path
            keep.append(i)
    report = {
        "folder": str(root),
        "files_found": len(files),
        "duplicates": duplicates,
        "not_images": [_rel(p, root) for p in others],
    }
    return Scan(
        root,
        [files[i] for i in keep],
        np.array([classes.index(class_of[i]) for i in keep], dtype=np.int32),
        classes,
        {_rel(p, root): sha for p, sha in zip(files, digests, strict=True)},
        report,
    )


def find_images(root: Path) -> tuple[list[Path], list[str], list[Path]]:
    """(image files, the class of each, other files), sorted. The class is the first-level
    sub-folder's name; a folder with images only in itself is one class, "all"."""
    root = Path(root)
    if not root.is_dir():
        raise PipelineError(
            f"image folder {root} does not exist",
            "set dataset.raw_dir to a folder of images (one sub-folder per class)",
        )
    everything = sorted(p for p in root.rglob("*") if p.is_file() and not _hidden(p, root))
    files = [p for p in everything if p.suffix.lower() in IMAGE_EXTENSIONS]
    others = [p for p in everything if p.suffix.lower() not in IMAGE_EXTENSIONS]
    if not files:
        raise PipelineError(
            f"image folder {root} holds no images ({', '.join(IMAGE_EXTENSIONS)})",
            "add images (one sub-folder per class) or point dataset.raw_dir elsewhere",
        )
    in_root = [p for p in files if p.parent == root]
    if in_root and len(in_root) < len(files):
        raise PipelineError(
            f"image folder {root} has {len(in_root)} images in the folder itself (e.g. "
            f"{in_root[0].name}) beside class sub-folders: they would become a class of their own",
            f"move them into a class sub-folder of {root}, or delete them",
        )
    class_of = ["all" if p.parent == root else p.relative_to(root).parts[0] for p in files]
    return files, class_of, others


def decode(
    path: Path, size: int, channels: int, resize: str, background: tuple[Any, ...]
) -> Decoded:
    """One file to ``size`` x ``size`` x ``channels`` uint8 pixels (or the reason it cannot)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    result = Decoded(path)
    try:
        with Image.open(path) as img:
            img.seek(0)  # the first frame of an animation or a multi-page TIFF
            result.size, result.mode = img.size, img.mode
            image = ImageOps.exif_transpose(img)
            rgb = _as_rgb(image, background)
            square = _square(rgb, size, resize, background)
            if channels == 1:
                square = square.convert("L")
            result.pixels = np.asarray(square, dtype=np.uint8).reshape(size, size, channels)
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as e:
        result.problem = f"{type(e).__name__}: {e}"[:200]
    return result


def _as_rgb(img: Any, background: tuple[Any, ...]) -> Any:
    """8-bit RGB, transparent pixels composited onto ``background``."""
    from PIL import Image

    if img.mode in ("I", "I;16", "I;16L", "I;16B", "I;16N", "F"):  # 16-bit (or float) grey
        values = np.asarray(img, dtype=np.float64)
        top = 65535.0 if values.max() > 255 else 255.0
        img = Image.fromarray(np.clip(values / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("LA", "La", "PA", "RGBa") or (img.mode == "L" and "transparency" in img.info):
        img = img.convert("RGBA")
    if img.mode == "RGBA":
        canvas = Image.new("RGBA", img.size, (*background, 255))
        return Image.alpha_composite(canvas, img).convert("RGB")
    return img.convert("RGB")


def _square(img: Any, size: int, resize: str, background: tuple[Any, ...]) -> Any:
    from PIL import Image

    bicubic = Image.Resampling.BICUBIC
    width, height = img.size
    if resize == "stretch" or width == height:
        return img.resize((size, size), bicubic)
    if resize == "center_crop":
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        return img.crop((left, top, left + side, top + side)).resize((size, size), bicubic)
    scale = size / max(width, height)  # pad: the whole image, letterboxed
    inner = (max(1, round(width * scale)), max(1, round(height * scale)))
    canvas = Image.new("RGB", (size, size), background)
    canvas.paste(img.resize(inner, bicubic), ((size - inner[0]) // 2, (size - inner[1]) // 2))
    return canvas


def _color(values: Sequence[int]) -> tuple[int, int, int]:
    values = [int(v) for v in values]
    if len(values) != 3 or not all(0 <= v <= 255 for v in values):
        raise PipelineError(
            f"dataset.pad_color is {values}: not an RGB colour",
            "give three numbers from 0 to 255, e.g. dataset.pad_color=[0,0,0]",
        )
    return values[0], values[1], values[2]


def _progress(total: int, description: str) -> Any:
    return progress(total, description)


def _rel(path: Path, root: Path) -> str:
    return str(path.relative_to(root))


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)
