"""The MLflow boundary of training and evaluation: `runs` (where runs go, what every run
records, the logged generator), `observer` (a training run streamed to MLflow, through a
server's outage) and `names` (what a run is called; no MLflow import, so every stage's command
line can use it)."""
