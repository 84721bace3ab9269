"""Random streams: every random draw of a train step takes its seed from one allocator.

A seed for TensorFlow's stateless random ops is a pair of int64s. Each draw is named by

- its ``purpose`` (noise, labels, the augmentation of real or of generated images, ...),
- the generator's ``step`` counter (restored from a checkpoint, so a resumed run draws what an
  uninterrupted one would),
- its ``phase`` within the step: the discriminator's updates 0 .. n-1, then the generator's n,
- the ``replica`` that draws it (draws shared by all replicas use replica 0),

and each of these has its own field of the pair, so two different draws never share a seed:

    first  = run seed * 2**24 + purpose index * 2**16 + replica
    second = step * phases + phase

A draw that needs several independent streams (the transforms of DiffAugment) folds an index
into its seed (``tf.random.experimental.stateless_fold_in``). A new purpose is a name appended to
``PURPOSES`` (appending keeps the seeds of the others).
"""

from __future__ import annotations

from typing import Any

Tensor = Any

PURPOSES = ("noise", "labels", "augment_real", "augment_fake", "mixing")
REPLICA_BITS = 16  # replicas per purpose: up to 65,536
PURPOSE_BITS = 8  # purposes: up to 256


def stream_key(
    seed: int, purpose: str, step: Any, phase: int, phases: int, replica: Any = 0
) -> Any:
    """The seed pair (first, second) of one draw; plain ints in, plain ints out (and int64
    tensors in, tensors out: ``Streams.seed`` uses it so)."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown random stream {purpose!r}; add it to PURPOSES")
    if not 0 <= phase < phases:
        raise ValueError(f"phase {phase} outside 0..{phases - 1}")
    base = (seed << (PURPOSE_BITS + REPLICA_BITS)) + (PURPOSES.index(purpose) << REPLICA_BITS)
    return base + replica, step * phases + phase


class Streams:
    """The seeds of one run: ``phases`` draws' slots a step (discriminator updates + 1)."""

    def __init__(self, seed: int, phases: int) -> None:
        self.seed = int(seed)
        self.phases = int(phases)

    def seed_for(self, purpose: str, step: Tensor, phase: int, replica: Tensor = 0) -> Tensor:
        """An int64 pair for a stateless op, for ``purpose`` at ``step`` (a tensor: the step
        counter) in ``phase``, drawn by ``replica``."""
        import tensorflow as tf

        first, second = stream_key(
            self.seed, purpose, tf.cast(step, tf.int64), phase, self.phases,
            tf.cast(replica, tf.int64),
        )  # fmt: skip
        return tf.stack([first, second])
