"""Building the GAN a run trains: its networks (under a precision policy), optimizers,
learning-rate schedules, loss and terms, from one ``GanSettings`` (the typed sections)."""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from pipeline.config import ComputeConfig, ModelConfig, settings_of
from pipeline.errors import PipelineError
from pipeline.gan.ada import Ada
from pipeline.gan.conditional import conditional_networks
from pipeline.gan.losses import LOSSES
from pipeline.gan.model import GAN
from pipeline.gan.regularizers import REGULARIZERS
from pipeline.models import build_networks
from pipeline.training.settings import GanSettings


def resolve_conditional(value: Any, num_classes: int) -> bool:
    """`training.conditional`: true, false, or auto (conditional when the data has 2 classes
    or more; the choice is printed)."""
    if value != "auto":
        return bool(value)
    chosen = num_classes >= 2
    print(f"training.conditional=auto: {'class-conditional' if chosen else 'unconditional'} "
          f"(the data has {num_classes} class{'es' if num_classes != 1 else ''})")  # fmt: skip
    return chosen


def seed_everything(seed: int, deterministic: bool) -> None:
    keras.utils.set_random_seed(seed)  # Python, NumPy and TensorFlow generators
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def build_gan(
    image_shape: tuple[int, int, int],
    settings: GanSettings,
    total_steps: int = 1,
    num_classes: int = 0,
    strategy: tf.distribute.Strategy | None = None,
) -> GAN:
    """The networks of ``settings.model``, compiled with its loss, terms and the optimizers
    (whose learning rates follow ``training.lr_schedule`` over ``total_steps``); with
    ``training.conditional``, class-conditional over ``num_classes`` classes. Every variable
    is made under ``strategy`` (`compute.strategy`; None: the one in use).

    The GAN object itself is made outside the strategy's scope (call this outside it): a Keras
    model made under a strategy has fit() build it symbolically first, reducing a batch across
    the replicas, which fails under MultiWorkerMirroredStrategy (keras-team/keras#20585). Ours
    needs no such build (the networks start from keras.Input; compile makes the rest), and a
    model made outside a scope trains under the scope fit() is called in."""
    t, model = settings.training, settings.model
    strategy = strategy or tf.distribute.get_strategy()
    classes = num_classes if t.conditional else 0
    if t.conditional and num_classes < 2:
        raise PipelineError(
            f"training.conditional needs a labelled dataset of 2 classes or more "
            f"(got {num_classes})",
            "set training.conditional=false, or use a dataset with class labels",
        )
    with strategy.scope():
        generator, discriminator = build_networks_in(
            settings.compute.precision, model, image_shape, classes
        )
    gan = GAN(
        generator, discriminator, model.latent_dim, seed=settings.seed,
        ema_decay=t.ema_decay, discriminator_steps=t.discriminator_steps,
        augment=list(settings.augment.diffaugment), ada=Ada.from_settings(settings.augment),
        num_classes=classes,
    )  # fmt: skip
    with strategy.scope():
        compile_gan(gan, settings, total_steps)
    return gan


def compile_gan(gan: GAN, settings: GanSettings, total_steps: int) -> None:
    """Its optimizers, loss and terms (learning rates over ``total_steps``), and with them
    every variable the GAN keeps besides the networks'."""
    t = settings.training

    def adam(rate: float, updates: int) -> keras.Optimizer:
        optimizer = keras.optimizers.Adam(
            learning_rate_schedule(rate, t.lr_schedule, updates),
            beta_1=t.beta_1, beta_2=t.beta_2,
        )  # fmt: skip
        if settings.compute.precision == "mixed_float16":  # float16 gradients underflow unscaled
            return keras.optimizers.LossScaleOptimizer(optimizer)
        return optimizer

    gan.compile(
        # D updates discriminator_steps times a step: its schedule spans as many updates.
        d_optimizer=adam(t.discriminator_lr, total_steps * t.discriminator_steps),
        g_optimizer=adam(t.generator_lr, total_steps),
        gan_loss=LOSSES.get(settings.loss.name),
        loss_settings={k: v for k, v in settings_of(settings.loss).items() if k != "name"},
        terms={
            name: (REGULARIZERS.get(name), settings_of(term_settings))
            for name, term_settings in settings.regularizers.items()
        },
        jit_compile=xla(settings.compute),
    )


def xla(compute: ComputeConfig) -> bool:
    """Whether the step is compiled with XLA: `compute.jit_compile`, unless
    `compute.deterministic` (TensorFlow's deterministic kernels exclude XLA; determinism
    wins, and the run's log says so)."""
    return compute.jit_compile and not compute.deterministic


def build_networks_in(
    precision: str, model: ModelConfig, image_shape: tuple[int, int, int], num_classes: int = 0
) -> tuple[keras.Model, keras.Model]:
    """The model's networks (class-conditional when ``num_classes`` > 0) under a dtype policy:
    with mixed_* their layers compute in 16 bits and keep float32 weights; a final float32
    layer keeps images and logits in float32, so that the losses, the metrics and everything
    downstream see what they always see."""

    def build() -> tuple[keras.Model, keras.Model]:
        if num_classes:
            return conditional_networks(model, image_shape, num_classes)
        return build_networks(model, image_shape)

    if precision == "float32":
        return build()
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        networks = build()
    finally:
        keras.config.set_dtype_policy(previous)

    def float32_output(network: keras.Model) -> keras.Model:
        output = keras.layers.Activation("linear", dtype="float32", name="float32_output")(
            network.outputs[0]
        )
        inputs = network.inputs if len(network.inputs) > 1 else network.inputs[0]
        return keras.Model(inputs, output, name=network.name)

    return float32_output(networks[0]), float32_output(networks[1])


def learning_rate_schedule(rate: float, schedule: str, total_steps: int) -> Any:
    """A constant rate, or one decaying to zero over ``total_steps`` optimizer steps."""
    if schedule == "constant":
        return rate
    if schedule == "linear":
        return keras.optimizers.schedules.PolynomialDecay(rate, max(total_steps, 1), 0.0)
    if schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(rate, max(total_steps, 1))
    raise PipelineError(
        f"unknown training.lr_schedule {schedule!r}", "use one of constant, linear, cosine"
    )
