"""``python -m pipeline.tune``: train, then evaluate, one composed config, and return the score
that a sweeper minimises (``tune.objective``: the FID unless the config names another).

    python -m pipeline.tune experiment=smoke                                    # one run
    python -m pipeline.tune -m experiment=smoke training.generator_lr=1e-4,2e-4 # a sweep
    python -m pipeline.tune -m hydra/launcher=parallel ...                      # 2 jobs at once
    python -m pipeline.tune hparams_search=smoke_optuna experiment=smoke        # Optuna

Its parts are in `pipeline.sweeps`: the objective (train, then evaluate), the Hydra callback that
makes a sweep one MLflow parent run with a child run per job, and the Optuna driver. Each job
writes its models/metrics/plots into its own job folder.
"""

from __future__ import annotations

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode

from pipeline.cli import entrypoint
from pipeline.errors import PipelineError
from pipeline.sweeps.objective import TuneStageConfig, check_objective, train_then_evaluate
from pipeline.sweeps.record import parent_run_id


def tune(cfg: TuneStageConfig) -> float:
    check_objective(cfg.tune.objective)  # before any training
    if cfg.resolved.get("hparams_search"):  # its own schema: the search validates it
        if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
            raise PipelineError(
                "an Optuna search (hparams_search=...) runs its own trials, not a Hydra multirun",
                "drop -m (or drop hparams_search= to sweep the values given on the command line)",
            )
        from pipeline.sweeps.optuna_search import search

        return search(cfg, train_then_evaluate, TuneStageConfig)
    return train_then_evaluate(cfg, parent_run_id=parent_run_id())


main = entrypoint(tune, TuneStageConfig, config_name="tune")

if __name__ == "__main__":
    main()
