"""One module per DVC stage (and `generate`), named as in dvc.yaml. Each composes and validates
its config sections, makes one call into the library, and writes its outputs; none imports
another stage. What they hand each other is in pipeline.artifacts."""
