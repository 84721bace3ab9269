"""Shared test helpers, imported by tests as `tests.helpers.<module>` (fixtures stay in
conftest.py): real configs composed from conf/, files in the official dataset formats,
subprocesses run as a user would, and the import walker behind the dvc.yaml checks."""
