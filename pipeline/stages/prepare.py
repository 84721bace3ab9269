"""Stage `prepare`: fetch and verify a raw dataset, write it as uint8 arrays (the stages that
read them scale them to [-1, 1])."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline import artifacts
from pipeline.artifacts import Artifacts
from pipeline.cli import entrypoint
from pipeline.config import DatasetConfig, StageConfig, choice
from pipeline.data.readers import load_raw
from pipeline.data.report import left_out, prepare_report, report_markdown
from pipeline.data.specs import DATASETS
from pipeline.data.writer import write_prepared
from pipeline.io import check_writable, write_json, write_text


@dataclass
class PrepareConfig(StageConfig):
    dataset: DatasetConfig = choice(DATASETS)  # the source's own schema (pipeline.data.specs)


def prepare(cfg: PrepareConfig) -> dict[str, Any]:
    out = Artifacts.from_paths(cfg.paths)
    check_writable(out.folders("prepared", "metrics"))
    raw = load_raw(cfg.dataset, cfg.paths.raw)
    meta = write_prepared(
        raw, out.prepared, limit=cfg.dataset.limit, title=cfg.dataset.title, settings=cfg.dataset
    )
    report = prepare_report(raw, meta, out.prepared)
    write_json(out.metric(artifacts.PREPARE_METRICS), report)
    write_text(out.metric(artifacts.PREPARE_REPORT), report_markdown(report))
    print(
        f"prepared {meta['title']} ({meta['dataset']}): {meta['counts']['train']} train / "
        f"{meta['counts']['test']} test images of shape {tuple(meta['shape'])} -> {out.prepared}"
    )
    if left_out(report):
        print(f"left out: {left_out(report)} (listed in {out.metric(artifacts.PREPARE_METRICS)})")
    return meta


SCHEMA = PrepareConfig
main = entrypoint(prepare, SCHEMA)

if __name__ == "__main__":
    main()
