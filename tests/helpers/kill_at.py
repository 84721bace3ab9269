"""The train stage, SIGKILLed by itself at a chosen point: a real kill (no cleanup, no Python
exit) at a moment an outside `kill` could only hit by luck, such as between the two renames of
a checkpoint write.

    python -m tests.helpers.kill_at POINT N <the train stage's overrides>

POINT and N:
    step N               after step N's callbacks (its checkpoint, if one was due, is written)
    epoch_end N          after the checkpoint written at the end of the N-th epoch (1-based)
    checkpoint_rename N  in the N-th checkpoint write, between its two renames
    final_write N        part-way through writing the generator file, N zip entries in
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any


def die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def after(cls: Any, name: str, when: Any) -> None:
    """Run ``when(self, *args)`` after ``cls.name``; it kills when its moment has come."""
    original = getattr(cls, name)

    def hooked(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        when(self, *args)
        return result

    setattr(cls, name, hooked)


def kill_after_calls(cls: Any, name: str, n: int) -> None:
    """SIGKILL during the n-th call of ``cls.name``, before it runs."""
    original, calls = getattr(cls, name), [0]

    def hooked(self, *args, **kwargs):
        calls[0] += 1
        if calls[0] >= n:
            die()
        return original(self, *args, **kwargs)

    setattr(cls, name, hooked)


def arm(point: str, n: int) -> None:
    import keras

    from pipeline.training import callbacks, checkpoints

    def step(model: Any) -> int:
        return int(model.g_optimizer.iterations.numpy())

    if point == "step":
        after(callbacks.StepLimit, "on_train_batch_end", lambda s, *a: step(s.model) == n and die())
    elif point == "epoch_end":
        after(
            checkpoints.Checkpointer, "on_epoch_end", lambda s, epoch, *a: epoch + 1 == n and die()
        )
    elif point == "checkpoint_rename":  # the n-th write: latest moved aside, the new not in
        saves = [0]
        original_save = checkpoints.Checkpointer.save

        def counted(self):
            saves[0] += 1
            if saves[0] == n:
                real_replace = os.replace

                def replace(src, dst):
                    real_replace(src, dst)
                    if str(dst).endswith("previous.weights.h5"):
                        die()

                checkpoints.os.replace = replace  # type: ignore[attr-defined]
            return original_save(self)

        checkpoints.Checkpointer.save = counted  # type: ignore[method-assign]
    elif point == "final_write":
        import zipfile

        def armed_save(self, *args, **kwargs):
            kill_after_calls(zipfile.ZipFile, "open", n + 1)
            return original_model_save(self, *args, **kwargs)

        original_model_save = keras.Model.save
        keras.Model.save = armed_save
    else:
        raise SystemExit(f"unknown kill point {point!r}")


if __name__ == "__main__":
    point, n, *overrides = sys.argv[1:]
    arm(point, int(n))
    from pipeline.stages.train import main

    sys.argv = [sys.argv[0], *overrides]
    main()
