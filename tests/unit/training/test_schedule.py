"""Schedules that hold when one call into TensorFlow runs several train steps
(compute.steps_per_execution)."""

from __future__ import annotations

import pytest

from pipeline.training.loop import steps_per_execution
from pipeline.training.monitor import passed


@pytest.mark.parametrize(
    ("previous", "step", "every", "expected"),
    [
        (0, 10, 10, True),  # one step a call or ten: the multiple itself
        (40, 50, 25, True),
        (30, 40, 25, False),  # 25 was passed in the call before
        (20, 30, 25, True),  # between two calls' ends: the call that passes it
        (9, 10, 1, True),
        (0, 10, 0, False),  # 0: never
        (100, 100, 10, False),  # no step run
    ],
)
def test_an_every_n_steps_schedule_fires_once_per_multiple_passed(previous, step, every, expected):
    assert passed(previous, step, every) is expected


@pytest.mark.parametrize("per_call", [1, 3, 8, 10, 40])
def test_a_schedule_fires_once_per_multiple_at_the_first_call_past_it(per_call):
    ends = list(range(per_call, 1001, per_call))
    fired = [s for p, s in zip([0, *ends], ends, strict=False) if passed(p, s, 50)]
    first_past = [next(s for s in ends if s >= m) for m in range(50, ends[-1] + 1, 50)]
    assert fired == first_past


@pytest.mark.parametrize(
    ("wanted", "steps_per_epoch", "start_step", "expected"),
    [
        (10, 6000, 0, 10),
        (10, 4, 0, 4),  # never past an epoch's end: Keras runs whole calls
        (10, 7500, 0, 10),
        (10, 7, 0, 7),
        (10, 13, 0, 1),  # a prime: one step a call
        (10, 6000, 1003, 1),  # resumed off the grid (steps_per_execution changed): exact end
        (10, 6000, 1004, 4),
        (10, 6000, 12000, 10),  # resumed at an epoch's start
        (1, 6000, 0, 1),
    ],
)
def test_steps_per_execution_divides_the_epoch_and_the_resumed_part(
    wanted, steps_per_epoch, start_step, expected
):
    n = steps_per_execution(wanted, steps_per_epoch, start_step)
    assert n == expected
    assert steps_per_epoch % n == 0 and (start_step % steps_per_epoch) % n == 0
