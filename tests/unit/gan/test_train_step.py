"""The custom train step: both networks learn, for every model and every loss; regularizer
terms are added and reported under their own names."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.training.build import build_gan, seed_everything
from pipeline.training.settings import GanSettings
from tests.helpers.configs import compose_config, options, validate_all

REAL = np.random.default_rng(0).uniform(-1, 1, (16, 28, 28, 1)).astype("float32")


def gan_for(overrides: list[str], num_classes: int = 0):
    cfg = validate_all(compose_config(["experiment=smoke", *overrides]))
    seed_everything(0, deterministic=False)
    cfg.seed = 0
    return build_gan((28, 28, 1), GanSettings.from_config(cfg), num_classes=num_classes)


def moved(before, variables) -> list[bool]:
    return [not np.allclose(a, b.numpy()) for a, b in zip(before, variables, strict=True)]


def kernels(model) -> list:
    return [w for w in model.trainable_weights if w.path.endswith("kernel")]


@pytest.mark.parametrize("model", options("model"))
def test_train_step_updates_both_networks(model):
    """The Keras 3 pitfall: with the old recipe the discriminator silently stops learning."""
    gan = gan_for([f"model={model}"])
    d_before = [w.numpy().copy() for w in gan.discriminator.trainable_weights]
    g_before = [w.numpy().copy() for w in gan.generator.trainable_weights]
    logs = gan.train_step(REAL)
    assert list(logs) == gan.metric_names == ["d_loss", "g_loss", "d_acc_real", "d_acc_fake"]
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert all(moved(d_before, gan.discriminator.trainable_weights)), "every D weight moves"
    assert all(moved(g_before, gan.generator.trainable_weights)), "every G weight moves"


@pytest.mark.parametrize("loss", options("loss"))
def test_every_loss_trains_both_networks(loss):
    """(Every kernel: with the hinge loss the last bias can have an exact zero gradient.)"""
    assert_every_kernel_learns(gan_for([f"loss={loss}"]))


def assert_every_kernel_learns(gan, batch=REAL) -> None:
    """One train step: finite values, and every kernel of both networks moves."""
    d_before = [w.numpy().copy() for w in kernels(gan.discriminator)]
    g_before = [w.numpy().copy() for w in kernels(gan.generator)]
    logs = gan.train_step(batch)
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert all(moved(d_before, kernels(gan.discriminator)))
    assert all(moved(g_before, kernels(gan.generator)))


@pytest.mark.parametrize("regularizer", options("regularizers"))
def test_regularizer_terms_are_reported_by_name(regularizer):
    gan = gan_for([f"regularizers=[{regularizer}]"])  # lazy ones run at step 0 too
    logs = gan.train_step(REAL)
    assert gan.metric_names[-1] == regularizer and regularizer in logs
    assert float(logs[regularizer]) > 0


def test_ema_generator_averages_and_follows_the_trained_one():
    """The average after each step is decay * average + (1 - decay) * weights, with the
    warm-up decay min(0.9, (1 + t) / (10 + t)) at step t."""
    gan = gan_for(["training.ema_decay=0.9"])
    assert gan.shipped_generator is gan.ema_generator is not None
    expected = [w.numpy().astype("float64") for w in gan.ema_generator.trainable_weights]
    for t in range(1, 4):
        gan.train_step(REAL)
        decay = min(0.9, (1 + t) / (10 + t))
        raw = [w.numpy() for w in gan.generator.trainable_weights]
        expected = [decay * e + (1 - decay) * r for e, r in zip(expected, raw, strict=True)]
    ema = [w.numpy() for w in gan.ema_generator.trainable_weights]
    for e, x in zip(expected, ema, strict=True):
        np.testing.assert_allclose(x, e, rtol=1e-4, atol=1e-6)
    assert any(not np.allclose(x, r) for x, r in zip(ema, raw, strict=True)), "it lags"


def test_without_ema_the_trained_generator_is_shipped():
    gan = gan_for(["training.ema_decay=0"])
    assert gan.ema_generator is None and gan.shipped_generator is gan.generator


def test_recalibrated_batch_norm_statistics_fit_the_averaged_weights():
    """After recalibration the moving statistics are those of the EMA generator's own
    activations, so its inference output matches its batch-statistics output."""
    from pipeline.gan.recalibrate import recalibrate_batch_norm

    gan = gan_for(["model=strided_dcgan", "training.ema_decay=0.9"])
    for _ in range(3):
        gan.train_step(REAL)
    noise = np.random.default_rng(5).standard_normal((512, gan.latent_dim)).astype("float32")
    ema = gan.ema_generator

    def gap() -> float:
        inference = ema(noise, training=False).numpy()
        return float(np.abs(inference - batch_stats_output(ema, noise)).mean())

    before = gap()
    recalibrate_batch_norm(ema, gan.latent_dim, seed=0, batches=8, batch_size=512)
    assert gap() < before / 2


def batch_stats_output(model, noise):
    """The output with batch statistics, leaving the moving statistics as they were."""
    saved = [w.numpy().copy() for w in model.non_trainable_weights]
    out = model(noise, training=True).numpy()
    for w, value in zip(model.non_trainable_weights, saved, strict=True):
        w.assign(value)
    return out


def test_critic_steps_update_the_discriminator_n_times_per_generator_step():
    gan = gan_for(["training.discriminator_steps=3"])
    gan.train_step(np.concatenate([REAL] * 3))  # the dataset hands 3 batches a step
    assert int(gan.d_optimizer.iterations) == 3 and int(gan.g_optimizer.iterations) == 1


@pytest.mark.parametrize("names", [["color"], ["translation", "cutout"]])
def test_diff_augment_trains_both_networks(names):
    assert_every_kernel_learns(gan_for([f"augment.diffaugment=[{','.join(names)}]"]))


def test_lecam_anchors_track_the_discriminator_outputs():
    gan = gan_for(["regularizers=[lecam]"])
    gan.train_step(REAL)
    assert np.all(gan.term_states["lecam"].numpy() != 0)


def test_a_terms_state_exists_only_while_the_term_is_on():
    """LeCam's anchors are allocated (and checkpointed) with LeCam, not without it."""
    assert gan_for([]).term_states == {}
    assert list(gan_for(["regularizers=[r1,lecam]"]).term_states) == ["lecam"]


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_learning_rate_schedules_decay_to_zero(schedule):
    from pipeline.training.build import learning_rate_schedule

    rate = learning_rate_schedule(0.1, schedule, total_steps=100)
    assert float(rate(0)) == pytest.approx(0.1) and float(rate(100)) == pytest.approx(0.0)
    assert 0 < float(rate(50)) < 0.1
    assert learning_rate_schedule(0.1, "constant", 100) == 0.1


@pytest.mark.parametrize("precision", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_trains_with_float32_weights_images_and_logits(precision):
    import keras

    gan = gan_for(["model=strided_dcgan", f"compute.precision={precision}"])
    assert keras.config.dtype_policy().name == "float32", "the global policy is put back"
    g_before = [w.numpy().copy() for w in kernels(gan.generator)]
    logs = gan.train_step(REAL)
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert all(moved(g_before, kernels(gan.generator)))
    assert {w.dtype for w in gan.generator.weights + gan.discriminator.weights} == {"float32"}
    images = gan.generator(np.zeros((2, gan.latent_dim), "float32"))
    assert images.dtype == "float32" and gan.discriminator(images).dtype == "float32"
    compute = {layer.compute_dtype for layer in gan.generator.layers[1:-1]}
    assert compute == {precision.removeprefix("mixed_")}


LABELS = (np.arange(16) % 10).astype("int32")


@pytest.mark.parametrize("model", options("model"))
def test_every_model_trains_class_conditionally(model):
    """Label embedding in G, projection D: any registered model, no edit of its code."""
    gan = gan_for([f"model={model}", "training.conditional=true"], num_classes=10)
    assert [tuple(i.shape) for i in gan.generator.inputs] == [(None, gan.latent_dim), (None,)]
    d_before = [w.numpy().copy() for w in gan.discriminator.trainable_weights]
    g_before = [w.numpy().copy() for w in gan.generator.trainable_weights]
    logs = gan.train_step((REAL, LABELS))
    assert all(np.isfinite(float(v)) for v in logs.values())
    names = {w.path.split("/")[0] for w in gan.discriminator.trainable_weights}
    assert "label_projection" in names
    assert all(moved(d_before, gan.discriminator.trainable_weights)), "every D weight moves"
    assert all(moved(g_before, gan.generator.trainable_weights)), "every G weight moves"


def test_conditional_generator_depends_on_the_label():
    from pipeline.gan.sampling import num_classes, sample

    gan = gan_for(["training.conditional=true"], num_classes=10)
    assert num_classes(gan.generator) == 10
    noise = np.random.default_rng(0).standard_normal((4, gan.latent_dim)).astype("float32")
    zeros = sample(gan.generator, noise, np.zeros(4, "int32")).numpy()
    fives = sample(gan.generator, noise, np.full(4, 5, "int32")).numpy()
    assert not np.allclose(zeros, fives)
    cycled = sample(gan.generator, np.concatenate([noise] * 3)[:10]).numpy()  # 0..9
    np.testing.assert_allclose(cycled[0], zeros[0], atol=1e-6)


def test_conditional_regularizers_see_the_real_labels():
    gan = gan_for(["training.conditional=true", "regularizers=[r1,gp,lecam]"], num_classes=10)
    logs = gan.train_step((REAL, LABELS))
    assert all(float(logs[name]) > 0 for name in ("r1", "gp", "lecam"))


def test_conditional_needs_labelled_data():
    from pipeline.errors import PipelineError

    with pytest.raises(PipelineError, match="labelled dataset"):
        gan_for(["training.conditional=true"], num_classes=0)


def test_with_critic_steps_both_schedules_end_with_the_run():
    """D updates n times a step: its schedule spans n times the updates, not ending early."""
    cfg = validate_all(compose_config(["experiment=smoke", "training.discriminator_steps=3",
                                       "training.lr_schedule=linear"]))  # fmt: skip
    gan = build_gan((28, 28, 1), GanSettings.from_config(cfg), total_steps=10)
    d_rate, g_rate = gan.d_optimizer.learning_rate, gan.g_optimizer.learning_rate
    assert float(d_rate) == float(g_rate) > 0
    d_schedule, g_schedule = gan.d_optimizer._learning_rate, gan.g_optimizer._learning_rate
    assert float(d_schedule(15)) == pytest.approx(float(g_schedule(5)))  # both halfway


def test_mode_seeking_term_is_msgans_ratio():
    from pipeline.gan.regularizers import mode_seeking_ratio

    a, b = np.zeros((2, 4, 4, 1), "float32"), np.full((2, 4, 4, 1), 0.5, "float32")
    za, zb = np.zeros((2, 3), "float32"), np.full((2, 3), 2.0, "float32")
    assert float(mode_seeking_ratio(a, b, za, zb)) == pytest.approx(1 / (0.5 / 2.0 + 1e-5))
    assert float(mode_seeking_ratio(a, a, za, zb)) == pytest.approx(1e5)  # noise ignored


@pytest.mark.parametrize("conditional", [False, True], ids=["plain", "conditional"])
def test_mode_seeking_pushes_images_of_different_noise_apart(conditional):
    """From the same start and batch, a step with the term leaves images of two noise vectors
    further apart than a step without it; the generator-side term is logged under its name."""
    overrides = [f"training.conditional={str(conditional).lower()}"]
    classes = 10 if conditional else 0
    batch = (REAL, LABELS) if conditional else REAL
    noise = np.random.default_rng(1).standard_normal((32, 256)).astype("float32")
    labels = np.arange(16, dtype="int32") % 10

    def spread(gan) -> float:
        from pipeline.gan.sampling import sample

        z = noise[:, : gan.latent_dim]
        a = sample(gan.generator, z[:16], labels if conditional else None).numpy()
        b = sample(gan.generator, z[16:], labels if conditional else None).numpy()
        return float(np.abs(a - b).mean())

    plain = gan_for(overrides, num_classes=classes)
    seeking = gan_for([*overrides, "regularizers=[mode_seeking]",
                       "regularizers.mode_seeking.weight=100"], num_classes=classes)  # fmt: skip
    np.testing.assert_array_equal(plain.generator.get_weights()[0],
                                  seeking.generator.get_weights()[0])  # fmt: skip
    plain.train_step(batch)
    logs = seeking.train_step(batch)
    assert seeking.metric_names[-1] == "mode_seeking" and float(logs["mode_seeking"]) > 0
    assert spread(seeking) > spread(plain)


def test_relativistic_loss_trains_both_networks_and_reads_real_images_in_gs_phase():
    """The proof of the step contract: a loss whose generator side needs D on real images is
    one entry (pipeline/gan/losses.py + conf/loss/relativistic_average.yaml)."""
    assert_every_kernel_learns(gan_for(["loss=relativistic_average"]))


class RecordingStreams:
    """The GAN's allocator, recording every seed it hands out (eager steps: real values)."""

    def __init__(self, streams):
        self.streams, self.drawn = streams, []

    def seed_for(self, purpose, step, phase, replica=0):
        seed = self.streams.seed_for(purpose, step, phase, replica)
        self.drawn.append((purpose, int(step), phase, tuple(seed.numpy())))
        return seed


def test_no_two_draws_share_a_seed_across_consecutive_steps():
    """Every draw of three steps (3 critic updates and the generator's, noise, labels, both
    augmentations, WGAN-GP's mixing, mode seeking's pairs) has a seed of its own: the defect
    was the generator's augmentation at step s reusing the real images' of step s + 1."""
    gan = gan_for(["training.conditional=true", "training.discriminator_steps=3",
                   "augment.diffaugment=[color,translation]", "regularizers=[gp,mode_seeking]"],
                  num_classes=10)  # fmt: skip
    gan.streams = recorder = RecordingStreams(gan.streams)
    batch = (np.concatenate([REAL] * 3), np.concatenate([LABELS] * 3))
    for _ in range(3):
        gan.train_step(batch)
    seeds = [seed for *_, seed in recorder.drawn]
    purposes = {purpose for purpose, *_ in recorder.drawn}
    assert purposes == {"noise", "labels", "augment_real", "augment_fake", "mixing"}
    assert {step for _, step, *_ in recorder.drawn} == {0, 1, 2}
    assert len(seeds) == len(set(seeds)), "a seed was handed out twice"


def test_the_allocators_seeds_are_distinct_for_every_replica_phase_purpose_and_step():
    from pipeline.gan.streams import PURPOSES, stream_key

    phases = 6  # five critic updates and the generator's
    keys = [stream_key(42, purpose, step, phase, phases, replica)
            for purpose in PURPOSES for step in range(4) for phase in range(phases)
            for replica in range(3)]  # fmt: skip
    assert len(keys) == len(set(keys))


def test_a_term_named_like_a_tracked_value_is_refused():
    """A regularizer term called "aug_p" would overwrite ADA's tracker of that name (and "d_loss"
    the loss's): GAN.compile refuses both, naming the clash."""
    from pipeline.gan.regularizers import REGULARIZERS

    gan = gan_for(["augment.ada_target=0.6"])
    r1 = REGULARIZERS.get("r1")
    for name in ("aug_p", "d_loss"):
        with pytest.raises(
            ValueError, match=f"term names clash with tracked values: \\['{name}'\\]"
        ):
            gan.compile(d_optimizer="adam", g_optimizer="adam", gan_loss=lambda *a: 0,
                        terms={name: (r1, {"weight": 1.0})})  # fmt: skip
