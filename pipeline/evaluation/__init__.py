"""Evaluating generators: a dataset-specific feature extractor and FID-style metrics."""
