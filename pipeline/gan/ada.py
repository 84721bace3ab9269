"""Adaptive discriminator augmentation (ADA: Karras et al. 2020, "Training Generative Adversarial
Networks with Limited Data"; keras-io's `gan_ada` example). On a small dataset the
discriminator learns the training images by heart and the generator stops learning; ADA
augments every image the discriminator sees, real and generated alike, each transform with
probability ``p``, and moves ``p`` by how much the discriminator over-fits.

The over-fitting signal is r_t = E[sign(D(real))] over the last ``interval`` steps: 0 when D
cannot tell the training images from fakes, 1 when it is sure of every one. Every ``interval``
steps ``p`` moves by sign(r_t - target) times the images seen since the last move over
``speed_images``, so it can go from 0 to 1 in ``speed_images`` images (the paper: 500k) and
settles where r_t is the target (the paper: 0.6). The augmentations are the project's own
(`pipeline.gan.augment`: flips, integer translation, colour, cutout), differentiable, so the
generator's gradient passes through them; below p of about 0.8 they do not leak into the
generated images (the paper, section 2.3).

The state is one variable of the GAN (p, the signs' sum, the images counted, the last r_t),
saved in its checkpoints, so a resumed run moves ``p`` exactly as an unbroken one would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.config import AugmentConfig
from pipeline.gan.augment import AUGMENTATIONS, sub_seed

Tensor = Any
P, SIGNS, COUNT, LAST_RT = range(4)  # the state's entries
STATE_SIZE = 4
ADA_SEED = 1_000  # folded into an augmentation seed for ADA's draws (DiffAugment's use 1, 2, ...)


@dataclass(frozen=True)
class Ada:
    target: float  # the r_t aimed at (0.6 in the paper); > 0
    speed_images: int  # images over which p can go from 0 to 1 (500,000 in the paper)
    augmentations: tuple[str, ...]  # applied in this order, each with probability p
    interval: int = 4  # steps between moves of p (the paper's 4 minibatches)

    @classmethod
    def from_settings(cls, augment: AugmentConfig) -> Ada | None:
        """The ADA of `augment.ada_*`; None when `augment.ada_target` is 0 (off)."""
        if not augment.ada_target:
            return None
        names = tuple(AUGMENTATIONS.entry(n).name for n in augment.ada_augment)  # checked
        return cls(augment.ada_target, augment.ada_speed_images, names)

    def augment(self, images: Tensor, p: Tensor, seed: Tensor) -> Tensor:
        """Each augmentation applied to each image with probability ``p``, independently."""
        import tensorflow as tf

        seed = sub_seed(seed, ADA_SEED)
        batch = tf.shape(images)[0]
        for i, name in enumerate(self.augmentations):
            own = sub_seed(seed, i)
            chosen = tf.random.stateless_uniform([batch, 1, 1, 1], sub_seed(own, 0)) < p
            images = tf.where(chosen, AUGMENTATIONS.get(name)(images, sub_seed(own, 1)), images)
        return images

    def update(self, state: Tensor, real_logits: Tensor, step: Tensor) -> Tensor:
        """The state after a step whose (last) discriminator update gave ``real_logits``;
        ``step`` counts the steps done before it (0 in the first): p moves after every
        ``interval``-th step."""
        import tensorflow as tf

        signs = state[SIGNS] + tf.reduce_sum(tf.sign(tf.cast(real_logits, tf.float32)))
        count = state[COUNT] + tf.cast(tf.size(real_logits), tf.float32)
        rt = signs / tf.maximum(count, 1.0)
        moved = tf.clip_by_value(
            state[P] + tf.sign(rt - self.target) * count / self.speed_images, 0.0, 1.0
        )
        due = tf.equal((step + 1) % self.interval, 0)
        return tf.where(
            due, tf.stack([moved, 0.0, 0.0, rt]), tf.stack([state[P], signs, count, state[LAST_RT]])
        )
