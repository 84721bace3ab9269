"""`python -m pipeline.tune`'s parts: the objective a sweep minimises (`objective`), the sweep
as one MLflow parent run (`record`), the Hydra callback that opens and closes it
(`hydra_callback`), and the Optuna driver (`optuna_search`)."""
