"""Training GANs: the loop (`loop.train`), checkpoints and their fingerprint, the monitor that
reports to observers, and the interval history. No DVC or MLflow in here."""
