"""A train step under a distribution strategy (`compute.strategy`): which replica runs it, and
how its share of a batch and of a loss is taken, so that a run split over replicas trains as one
device would."""

from __future__ import annotations

from typing import Any

import tensorflow as tf


def replica() -> tuple[Any, int]:
    """(this replica's index, the number of replicas): (0, 1) outside a distribution strategy
    of several devices or workers (`compute.strategy`)."""
    context = tf.distribute.get_replica_context()
    if context is None:  # cross-replica context: not inside a step
        return 0, 1
    return context.replica_id_in_sync_group, context.num_replicas_in_sync


def per_replica(loss: Any) -> Any:
    """A replica's share of a loss averaged over its part of the global batch: the optimizers
    sum the replicas' gradients, so each is divided by the number of replicas and the sum is
    the gradient of the global batch's average."""
    replicas = replica()[1]
    return loss if replicas == 1 else loss / replicas


def replica_slice(draw: Any, batch_size: Any) -> Any:
    """This replica's ``batch_size`` rows of ``draw(rows)``, one draw for the global batch: a
    run split over replicas sees the noise and labels that one device would."""
    index, replicas = replica()
    if replicas == 1:
        return draw(batch_size)
    return draw(batch_size * replicas)[index * batch_size : (index + 1) * batch_size]
