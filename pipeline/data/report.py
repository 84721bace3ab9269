"""The prepare report: what went into the prepared data, for a person to check before training
(`metrics/prepare.json` and its short markdown, `metrics/prepare.md`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pipeline.data.prepared import RawDataset


def prepare_report(raw: RawDataset, meta: dict[str, Any], prepared: Path) -> dict[str, Any]:
    """Images per class and split, as written to ``prepared``, and what the reader found:
    sizes and modes seen, files skipped or duplicated and why (image folders)."""
    per_class = {
        split: {
            name: int(count)
            for name, count in zip(
                raw.class_names,
                np.bincount(
                    np.load(prepared / f"{split}_labels.npy"), minlength=len(raw.class_names)
                ),
                strict=True,
            )
        }
        for split in ("train", "test")
    }
    return {
        "dataset": raw.name,
        "checksum": meta["checksum"],
        "shape": meta["shape"],
        "counts": meta["counts"],
        "classes": len(raw.class_names),
        "per_class": per_class,
        **raw.report,
    }


def report_markdown(report: dict[str, Any]) -> str:
    shape = "x".join(str(n) for n in report["shape"])
    lines = [
        f"# Prepared {report['dataset']}",
        "",
        f"{report['counts']['train']} train and {report['counts']['test']} test images of "
        f"{shape}, {report['classes']} classes; dataset checksum `{report['checksum'][:12]}`.",
        "",
        "| class | train | test |",
        "|---|---|---|",
        *(
            f"| {name} | {report['per_class']['train'][name]} | {report['per_class']['test'][name]} |"
            for name in report["per_class"]["train"]
        ),
    ]
    if "files_found" in report:
        lines += [
            "",
            f"{report['files_found']} image files found in `{report['folder']}`, "
            f"{report['images_kept']} kept; made square by `{report['resize']}`.",
            "Sizes seen (width x height): "
            + ", ".join(f"{size} ({n})" for size, n in report["sizes_seen"].items())
            + "; modes: "
            + ", ".join(f"{mode} ({n})" for mode, n in report["modes_seen"].items())
            + ".",
        ]
        for key, title in (("skipped", "Skipped (unreadable)"), ("duplicates", "Duplicates")):
            entries = report[key]
            if entries:
                lines += ["", f"{title}: {len(entries)}", ""]
                lines += [f"- `{e['file']}`: {e.get('reason') or 'same as ' + e['same_as']}"
                          for e in entries[:50]]  # fmt: skip
        if report["not_images"]:
            shown = ", ".join(f"`{p}`" for p in report["not_images"][:10])
            lines += ["", f"Not images (left out): {len(report['not_images'])}: {shown}"]
    return "\n".join(lines) + "\n"


def left_out(report: dict[str, Any]) -> str:
    """What an image folder's user should hear of at once: the files left out, counted ("" when
    none)."""
    counts = {key: len(report.get(key, [])) for key in ("skipped", "duplicates", "not_images")}
    return ", ".join(f"{n} {key.replace('_', ' ')}" for key, n in counts.items() if n)
