"""The step contract: what one phase of a train step hands the loss and every loss term.

A train step has phases (as StyleGAN2-ADA's ``accumulate_gradients``): the discriminator's
updates, then the generator's. Each phase builds one ``Batch`` and passes it to the loss
(``GanLoss.discriminator(batch)`` or ``GanLoss.generator(batch)``) and to the terms of that
network (`pipeline.gan.regularizers`). A loss or term reads what it needs and ignores the rest:

- the discriminator's phase has both logits, both image batches (as D saw them: augmented when
  augmentation is on) and the labels;
- the generator's phase has the fresh fakes' logits (differentiable with respect to G), the
  generator's raw output and noise, and, only when a loss or term reads ``real_logits``, D's
  logits on a real batch, computed then (relativistic losses read them; others cost nothing).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Tensor = Any

DISCRIMINATOR = "discriminator"
GENERATOR = "generator"


class Batch:
    def __init__(
        self,
        phase: str = DISCRIMINATOR,
        *,
        real_logits: Tensor = None,
        fake_logits: Tensor = None,
        real_images: Tensor = None,
        fake_images: Tensor = None,
        generated: Tensor = None,
        noise: Tensor = None,
        labels: Tensor = None,
        fake_labels: Tensor = None,
        discriminator: Callable[..., Tensor] | None = None,
        step: Tensor = 0,
        seed: Callable[[str], Tensor] | None = None,
        discriminate_real: Callable[[], Tensor] | None = None,
    ) -> None:
        self.phase = phase  # DISCRIMINATOR or GENERATOR: whose update this batch serves
        self._real_logits = real_logits  # D(real images): (batch, 1)
        self.fake_logits = fake_logits  # D(fake images): (batch, 1)
        self.real_images = real_images  # as D sees them (augmented when augmentation is on)
        self.fake_images = fake_images  # likewise
        self.generated = generated  # G's output before augmentation (the generator's phase)
        self.noise = noise  # the noise behind ``generated``
        self.labels = labels  # the real images' class labels; None: unconditional
        self.fake_labels = fake_labels  # the fakes' labels; None: unconditional
        # images -> logits of the discriminator at the real images' labels (penalties on D)
        self.discriminator: Any = discriminator
        self.step = step  # int64 scalar: the generator's step counter (0 on the first step)
        # purpose -> an int64 seed pair of this phase's own stream (`pipeline.gan.streams`)
        self.seed = seed
        # The generator's phase: computes D's logits on real images when they are first read
        self.discriminate_real = discriminate_real

    @property
    def real_logits(self) -> Tensor:
        if self._real_logits is None and self.discriminate_real is not None:
            self._real_logits = self.discriminate_real()
        return self._real_logits

    @real_logits.setter
    def real_logits(self, value: Tensor) -> None:
        self._real_logits = value
