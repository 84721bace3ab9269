"""Stage `evaluate`: FID-style metrics of the trained generator, with the real-vs-real floor.

Writes metrics/eval.json (for `dvc metrics`), plots DVC can show, and logs everything to the
MLflow run that trained the generator, so runs compare side by side in the MLflow UI.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from pipeline import artifacts
from pipeline.artifacts import Artifacts
from pipeline.cli import entrypoint
from pipeline.config import (
    DatasetConfig,
    EvaluationConfig,
    StageConfig,
    TrackingConfig,
    choice,
    section,
)
from pipeline.data.prepared import load_prepared
from pipeline.data.specs import DATASETS
from pipeline.evaluation.run import (
    add_conditional_scores,
    evaluate_generator,
    save_sample_pictures,
    summary_line,
    write_class_histogram,
)
from pipeline.evaluation.spaces import SpaceContext, open_space
from pipeline.explore import save_walks
from pipeline.gan.sampling import latent_dim, sample
from pipeline.io import atomic_path, check_writable, sha256_file, write_json
from pipeline.tracking.evaluation import log_evaluation


@dataclass
class EvaluateConfig(StageConfig):
    dataset: DatasetConfig = choice(DATASETS)
    evaluation: EvaluationConfig = section(EvaluationConfig)
    tracking: TrackingConfig = section(TrackingConfig)


PLOTS = (artifacts.EVAL_SAMPLES, artifacts.NEAREST_NEIGHBOURS, artifacts.CLASS_HISTOGRAM)


def evaluate(cfg: EvaluateConfig) -> float:
    out = Artifacts.from_paths(cfg.paths)
    check_writable(out.folders("metrics", "plots"))
    # eval.json names the generator it scored, so that register cannot pair the scores with
    # another generator (a stale eval.json beside a newly trained model).
    generator_sha256 = sha256_file(artifacts.require(out.generator, "train"))
    generator = artifacts.load_keras_model(out.generator, "train")
    data = load_prepared(out.prepared, dataset=cfg.dataset)
    context = SpaceContext(data.meta, out.classifier, out.metric(artifacts.CLASSIFIER_METRICS),
                           cfg.evaluation.batch_size)  # fmt: skip
    space, why = open_space(cfg.evaluation.features, context)
    print(f"feature space: {space.name} ({why})")
    train_images = data.images("train")
    evaluation = evaluate_generator(
        lambda z: sample(generator, z),  # a conditional generator: classes in turn
        latent_dim(generator),
        space,
        train_images,
        data.images("test"),
        data.meta,
        cfg.evaluation,
        out.cache / "eval",
    )
    sheet = add_conditional_scores(evaluation, generator, space, data, cfg.evaluation)
    result = evaluation.result
    result["feature_space"]["chosen_because"] = why
    result["conditional"] = sheet is not None
    result["generator_sha256"] = generator_sha256
    # What was evaluated: register names the model after it (never after the config's dataset)
    result["data_title"] = data.meta.get("title") or data.meta["dataset"]
    result["class_names"] = list(data.meta["class_names"])
    per_class = {key: result.pop(key) for key in ("per_class",) if key in result}
    write_json(out.metric(artifacts.EVAL_METRICS), result)
    write_json(out.metric(artifacts.EVAL_PER_CLASS), per_class)  # {} when unconditional
    result.update(per_class)  # the run's evaluation/eval.json keeps everything
    write_class_histogram(
        out.plot(artifacts.CLASS_HISTOGRAM),
        data.meta["class_names"],
        evaluation.class_counts,
        evaluation.floor_class_counts,
    )
    save_sample_pictures(
        evaluation,
        train_images,
        out.plot(artifacts.EVAL_SAMPLES),
        out.plot(artifacts.NEAREST_NEIGHBOURS),
        sheet,
    )
    seed, names = cfg.evaluation.seed, list(data.meta["class_names"]) if sheet is not None else []
    walks = save_walks(generator, [seed, seed + 1, seed + 2, seed + 3], 10,
                       out.cache / "eval" / "interpolation.png", names)  # fmt: skip
    # The features scored travel with the run: register compares a challenger with the
    # champion on them (a bootstrap interval of the difference), long after this evaluation.
    features = out.cache / "eval" / artifacts.EVAL_FEATURES
    with atomic_path(features) as tmp:
        np.savez(tmp, **cast(dict[str, Any], evaluation.features))
    log_evaluation(
        cfg.tracking, artifacts.train_run_id(out), result,
        [*(out.plot(name) for name in PLOTS), features, *walks],
    )  # fmt: skip
    print(summary_line(result, cfg.evaluation, len(data.meta["class_names"])))
    return float(result["fid"])


SCHEMA = EvaluateConfig
main = entrypoint(evaluate, SCHEMA)

if __name__ == "__main__":
    main()
