"""Real fit() runs: the same seed gives the same weights, and checkpoints resume exactly."""

from __future__ import annotations

import copy
import dataclasses
import os
import signal

import keras
import numpy as np
import pytest

from pipeline.training import loop
from pipeline.training.build import build_gan
from pipeline.training.callbacks import DivergenceGuard, TimeBudget
from pipeline.training.inputs import make_dataset
from pipeline.training.settings import GanSettings
from tests.helpers.configs import compose_config, output_overrides, validate_all

IMAGES = np.random.default_rng(1).uniform(-1, 1, (256, 28, 28, 1)).astype("float32")


def train(cfg, **kwargs):
    return loop.train(IMAGES, GanSettings.from_config(cfg), **kwargs)


def assert_same_weights(a, b, **tolerance):
    for x, y in zip(a.gan.generator.get_weights(), b.gan.generator.get_weights(), strict=True):
        if tolerance:
            np.testing.assert_allclose(x, y, **tolerance)
        else:
            np.testing.assert_array_equal(x, y)


def test_same_seed_same_weights(smoke_cfg):
    first, second = train(smoke_cfg), train(smoke_cfg)
    assert_same_weights(first, second)
    assert first.rows and [r["d_loss"] for r in first.rows] == [r["d_loss"] for r in second.rows]


@pytest.mark.faults
@pytest.mark.parametrize("model", ["mlp", "dcgan_small"])
def test_resume_continues_from_checkpoint(model, tmp_path):
    """Bit-identical, with Dropout too (dcgan_small's discriminator): its random state is in
    the checkpoint."""
    cfg = validate_all(compose_config(["experiment=smoke", f"model={model}",
                                       *output_overrides(tmp_path)]))  # fmt: skip
    straight = train(cfg)  # 2 epochs x 4 steps in one go
    one = copy.deepcopy(cfg)
    one.training.epochs = 1
    train(one, checkpoint_dir=tmp_path / "ckpt")
    resumed = train(cfg, checkpoint_dir=tmp_path / "ckpt")
    assert resumed.start_step == 4 and resumed.steps == 8
    assert len(resumed.history["d_loss"]) == 1, "only the second epoch is trained again"
    assert_same_weights(straight, resumed)  # bit-identical


class StopAfterEpoch(keras.callbacks.Callback):
    """Stops fit() at the end of the first epoch, after the checkpoint is written."""

    def on_epoch_end(self, epoch, logs=None):
        self.model.stop_training = True


class AdaFromHalf(keras.callbacks.Callback):
    """Starts adaptive augmentation at p = 0.5 (a fresh run's 0 would stay 0 on these random
    images, where D is unsure), so that its draws shape every step."""

    def on_train_begin(self, logs=None):
        if int(self.model.g_optimizer.iterations.numpy()) == 0:
            self.model.ada_state.assign([0.5, 0.0, 0.0, 0.0])


@pytest.mark.faults
def test_resume_is_exact_with_every_stateful_technique(smoke_cfg, tmp_path):
    """The averaged generator, LeCam's anchors, critic steps, DiffAugment's draws, adaptive
    augmentation's p and a decaying learning rate all continue from a checkpoint as if training
    had not stopped (here stopped after its first epoch, as a killed run would be)."""
    cfg = copy.deepcopy(smoke_cfg)
    cfg.training.ema_decay = 0.9
    cfg.training.discriminator_steps = 2
    cfg.augment.diffaugment = ["color", "translation", "cutout"]
    cfg.training.lr_schedule = "cosine"
    cfg.augment.ada_target = 0.6  # p (from 0.5) moves at steps 4 and 8, by 1/16 each time
    cfg.augment.ada_speed_images = 2048
    cfg.training.batch_size = 32  # 256 images: 4 steps of 2 x 32
    cfg.regularizers = {"lecam": {"weight": 0.3}}
    straight = train(cfg, callbacks=[AdaFromHalf()])
    interrupted = train(cfg, checkpoint_dir=tmp_path / "ckpt",
                        callbacks=[AdaFromHalf(), StopAfterEpoch()])  # fmt: skip
    assert interrupted.steps == 4
    resumed = train(cfg, checkpoint_dir=tmp_path / "ckpt", callbacks=[AdaFromHalf()])
    assert resumed.start_step == 4 and resumed.steps == 8
    for a, b in zip(straight.generator.get_weights(), resumed.generator.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(straight.gan.term_states["lecam"].numpy(),
                                  resumed.gan.term_states["lecam"].numpy())  # fmt: skip
    assert interrupted.gan.ada_state.numpy()[0] != 0.5  # p moved in the first epoch
    np.testing.assert_array_equal(straight.gan.ada_state.numpy(), resumed.gan.ada_state.numpy())
    p_then, p_now = interrupted.gan.ada_state.numpy()[0], straight.gan.ada_state.numpy()[0]
    assert straight.rows[-1]["aug_p"] == pytest.approx((p_then + p_now) / 2)  # steps 7 and 8


def test_the_quality_probes_rows_survive_a_resume(smoke_cfg, tmp_path):
    """The probe's rows up to the checkpoint are kept beside it and start the resumed run's,
    as the loss rows do: they used to be lost, leaving a gap in the quality curve."""
    cfg = copy.deepcopy(smoke_cfg)
    cfg.monitor.probe_every_steps = 2

    def probe(gan):  # a stand-in score: the step it was taken at
        return {"probe_fid": float(gan.g_optimizer.iterations.numpy()), "probe_kid": 0.0}

    cfg.training.epochs = 1
    first = train(cfg, checkpoint_dir=tmp_path / "ckpt", probe=probe)
    assert [r["step"] for r in first.probe_rows] == [2, 4]
    cfg.training.epochs = 2
    resumed = train(cfg, checkpoint_dir=tmp_path / "ckpt", probe=probe)
    assert resumed.start_step == 4
    assert [r["step"] for r in resumed.probe_rows] == [2, 4, 6, 8]
    assert [r["probe_fid"] for r in resumed.probe_rows] == [2.0, 4.0, 6.0, 8.0]


def test_longer_checkpoint_is_not_resumed(smoke_cfg, tmp_path):
    train(smoke_cfg, checkpoint_dir=tmp_path / "ckpt")  # 2 epochs
    one = copy.deepcopy(smoke_cfg)
    one.training.epochs = 1
    shorter = train(one, checkpoint_dir=tmp_path / "ckpt")
    assert shorter.start_step == 0 and shorter.steps == 4
    assert (tmp_path / "ckpt.epoch2").is_dir(), "the longer run's checkpoint is kept aside"


def test_dataset_refuses_fewer_images_than_a_batch():
    from pipeline.errors import PipelineError

    with pytest.raises(PipelineError, match="fewer than one batch"):
        make_dataset(np.zeros((10, 28, 28, 1), "float32"), 64, 0)


def test_time_budget_stops_training(smoke_cfg):
    """benchmarks/quality.py trains presets for equal wall-clock budgets with it."""
    cfg = copy.deepcopy(smoke_cfg)
    cfg.training.epochs = 50
    cfg.compute.steps_per_execution = 10  # lowered to 4: never past the smoke epoch's end
    result = train(cfg, callbacks=[TimeBudget(0.0)])
    assert result.steps == result.gan.steps_per_execution == 4, "stops after the first call"


class Recorder:
    def __init__(self):
        self.metrics: list[tuple[int, dict]] = []

    def on_metrics(self, metrics, step):
        self.metrics.append((step, dict(metrics)))

    def on_samples(self, images, step):
        pass


def pixel_features(images):
    """A real, if crude, feature space: 4x4 average-pooled pixels."""
    x = np.asarray(images, "float64").reshape(len(images), 7, 4, 7, 4).mean(axis=(2, 4))
    return x.reshape(len(images), -1), np.ones((len(images), 1))


@pytest.mark.parametrize(
    ("per_call", "probed"),
    [
        (1, [3, 6, 8]),  # 8 steps: probed at 3 and 6, then at the end (8)
        (4, [4, 8]),  # calls end at 4 and 8: each passes a multiple of 3 (8 is the end too)
    ],
)
def test_quality_probe_reports_kid_and_fid_on_schedule_and_at_the_end(smoke_cfg, per_call, probed):
    from pipeline.training.probe import QualityProbe

    cfg = copy.deepcopy(smoke_cfg)
    cfg.monitor.probe_every_steps = 3
    cfg.compute.steps_per_execution = per_call
    recorder = Recorder()
    probe = QualityProbe(pixel_features, IMAGES[:100], seed=0)
    result = train(cfg, observers=[recorder], probe=probe)
    assert [row["step"] for row in result.probe_rows] == probed
    reported = [(s, m) for s, m in recorder.metrics if "probe_fid" in m]
    assert [s for s, _ in reported] == probed
    assert all(m["probe_fid"] > 0 and np.isfinite(m["probe_kid"]) for _, m in reported)


def test_several_steps_per_call_train_the_same_weights_and_log_the_same_means(smoke_cfg):
    """compute.steps_per_execution changes how often Python looks in, not what is trained."""
    cfg = copy.deepcopy(smoke_cfg)
    cfg.monitor.log_every_steps = 4
    one, four = copy.deepcopy(cfg), copy.deepcopy(cfg)
    one.compute.steps_per_execution = 1
    four.compute.steps_per_execution = 4
    a, b = train(one), train(four)
    assert (a.gan.steps_per_execution, b.gan.steps_per_execution) == (1, 4)
    assert_same_weights(a, b)
    assert [r["step"] for r in a.rows] == [r["step"] for r in b.rows] == [4, 8]
    for x, y in zip(a.rows, b.rows, strict=True):
        for name in ("d_loss", "g_loss", "d_acc_real", "d_acc_fake"):
            assert x[name] == pytest.approx(y[name], rel=1e-5)


def test_quality_probe_scores_real_images_near_zero():
    from pipeline.training.probe import QualityProbe

    class Copier:  # a "generator" that returns real images: the probe must score it ~0
        latent_dim = 4
        inputs = (None,)  # one input: unconditional

        def __init__(self, images):
            self.images = images
            self.shipped_generator = self

        def __call__(self, noise, training=False):
            return self.images[: len(noise)]

    same = QualityProbe(pixel_features, IMAGES[:128], seed=0)(Copier(IMAGES[:128]))
    other = QualityProbe(pixel_features, IMAGES[:128], seed=0)(Copier(0.2 * IMAGES[128:]))
    assert same["probe_fid"] < 1e-6 and other["probe_fid"] > same["probe_fid"]


def test_a_toy_conditional_gan_learns_its_labels():
    """Two classes that differ only in brightness (dark -0.8, bright +0.8, with noise): after
    a short training, each label's samples are on its side."""
    from tests.helpers.configs import compose_config, validate_all

    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 256).astype("int32")
    images = np.where(labels[:, None, None, None] == 0, -0.8, 0.8) + rng.normal(
        0, 0.05, (512, 28, 28, 1)
    )
    cfg = validate_all(compose_config([
        "experiment=smoke", "training.conditional=true", "training.epochs=1",
        "training.steps_per_epoch=300", "training.batch_size=32", "training.generator_lr=1e-3",
        "training.discriminator_lr=1e-3",
    ]))  # fmt: skip
    cfg.seed = 0
    result = loop.train(np.clip(images, -1, 1).astype("float32"), GanSettings.from_config(cfg),
                        labels=labels, num_classes=2)  # fmt: skip
    from pipeline.gan.sampling import sample

    noise = rng.standard_normal((200, cfg.model.latent_dim)).astype("float32")
    dark = np.asarray(sample(result.generator, noise, np.zeros(200, "int32"))).mean(axis=(1, 2, 3))
    bright = np.asarray(sample(result.generator, noise, np.ones(200, "int32"))).mean(axis=(1, 2, 3))
    assert (dark < 0).mean() > 0.9 and (bright > 0).mean() > 0.9, (dark.mean(), bright.mean())


@pytest.mark.faults
def test_divergence_stops_training_before_a_checkpoint_of_broken_weights(smoke_cfg, tmp_path):
    """Learning rates of 1e38 make the losses NaN (issue 9, #4): training stops with an error
    naming the step, and no checkpoint holds the broken weights; weights that are broken while
    the loss (computed before the update) is still finite are not saved either."""
    from pipeline.errors import PipelineError
    from pipeline.training.checkpoints import Checkpointer

    bad = copy.deepcopy(smoke_cfg)
    bad.training.generator_lr = bad.training.discriminator_lr = 1e38
    bad.checkpoint.every_steps = 1  # a checkpoint is due after every step
    with pytest.raises(PipelineError, match=r"training diverged at step \d+: \w+=nan"):
        train(bad, checkpoint_dir=tmp_path / "ckpt")
    assert not (tmp_path / "ckpt" / "latest.weights.h5").exists()

    guard = DivergenceGuard()
    bad.seed, bad.regularizers = 0, {}
    gan = build_gan((28, 28, 1), GanSettings.from_config(bad))
    guard.set_model(gan)
    kernel = gan.generator.trainable_weights[0]
    kernel.assign(np.full(kernel.shape, np.inf, "float32"))
    checkpointer = Checkpointer(tmp_path / "inf", 1, before_save=guard.check_weights)
    checkpointer.set_model(gan)
    with pytest.raises(PipelineError, match=r"diverged at step 0: .*kernel is not finite"):
        checkpointer.save()
    assert not (tmp_path / "inf" / "latest.weights.h5").exists()


@pytest.mark.faults
def test_an_unreadable_checkpoint_falls_back_to_the_previous_one(smoke_cfg, tmp_path):
    """Issue 9, #1: a checkpoint that cannot be read (here truncated, as a disk fault or an
    older Keras's in-place write leaves it) is not a crash: the previous one is resumed; with
    none readable, the error says how to start afresh."""
    from pipeline.errors import PipelineError

    cfg = copy.deepcopy(smoke_cfg)
    cfg.checkpoint.every_steps = 3  # 4 steps an epoch: saves at 3, 4 (epoch end), ...
    cfg.training.epochs = 1
    train(cfg, checkpoint_dir=tmp_path / "ckpt")
    latest, previous = (
        tmp_path / "ckpt" / "latest.weights.h5",
        tmp_path / "ckpt" / "previous.weights.h5",
    )
    assert latest.is_file() and previous.is_file()
    latest.write_bytes(latest.read_bytes()[:1000])
    cfg.training.epochs = 2
    resumed = train(cfg, checkpoint_dir=tmp_path / "ckpt")
    assert resumed.start_step == 3 and resumed.steps == 8  # from the previous checkpoint
    for path in (latest, previous):
        path.write_bytes(b"not a checkpoint")
    with pytest.raises(PipelineError, match="no checkpoint in .* can be read"):
        train(cfg, checkpoint_dir=tmp_path / "ckpt")


class Crash(keras.callbacks.Callback):
    """Fails fit() after ``step`` steps, as a killed process would stop (after the checkpoint
    callbacks of that step have run)."""

    def __init__(self, step: int):
        super().__init__()
        self.step = step

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.g_optimizer.iterations.numpy()) == self.step:
            raise RuntimeError("crash")


@pytest.mark.faults
def test_a_mid_epoch_resume_trains_only_the_steps_left(smoke_cfg, tmp_path):
    """Issue 9, #5: resumed mid-epoch, training continues at the next batch and stops at the
    steps asked for (8), not the epoch's steps over again, with the uninterrupted weights."""
    straight = train(smoke_cfg)  # 2 epochs x 4 steps
    cfg = copy.deepcopy(smoke_cfg)
    cfg.checkpoint.every_steps = 3
    with pytest.raises(RuntimeError, match="crash"):
        train(cfg, checkpoint_dir=tmp_path / "ckpt", callbacks=[Crash(7)])
    resumed = train(cfg, checkpoint_dir=tmp_path / "ckpt")
    assert (resumed.start_step, resumed.steps) == (6, 8)
    assert [row["step"] for row in resumed.rows][-1] == 8
    assert_same_weights(straight, resumed)  # bit-identical


class SignalAt(keras.callbacks.Callback):
    """Sends this process ``number`` after ``step`` steps: a real signal, as from a terminal."""

    def __init__(self, step: int, number: int):
        super().__init__()
        self.step, self.number = step, number

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.g_optimizer.iterations.numpy()) == self.step:
            os.kill(os.getpid(), self.number)


@pytest.mark.faults
def test_ctrl_c_checkpoints_the_step_and_resumes_exactly(smoke_cfg, tmp_path):
    """Issue 9, #2: Ctrl-C (SIGINT) finishes the step, checkpoints it and stops with exit
    status 130; the next run resumes there and ends with the uninterrupted run's weights. The
    handlers are put back afterwards (a later Ctrl-C is Python's KeyboardInterrupt again); an
    ignored signal (a job started with nohup ... &) is left ignored."""
    from pipeline.errors import Interrupted

    straight = train(smoke_cfg)
    before = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal
    # Sent after step 3's callbacks ran, the signal is seen after the next step (4), as one
    # arriving during step 4's compute would be.
    with pytest.raises(Interrupted, match="stopped by SIGINT at step 4") as stopped:
        train(smoke_cfg, checkpoint_dir=tmp_path / "ckpt", callbacks=[SignalAt(3, signal.SIGINT)])
    assert stopped.value.exit_status == 130
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    signal.signal(signal.SIGINT, before)
    resumed = train(smoke_cfg, checkpoint_dir=tmp_path / "ckpt")
    assert (resumed.start_step, resumed.steps) == (4, 8)
    assert_same_weights(straight, resumed)  # bit-identical


@pytest.mark.faults
@pytest.mark.parametrize("per_call", [1, 10])
def test_a_discriminator_that_wins_outright_is_a_warning_and_a_tag(
    smoke_cfg, tmp_path, capsys, per_call
):
    """Issue 9, #3: D learns 2,000 times faster than G and is soon right about every image;
    a warning is printed and tags the MLflow run, and training goes on; with several steps a
    call too (the streak is judged on each call's means)."""
    import mlflow

    from pipeline.tracking.observer import MlflowObserver

    cfg = copy.deepcopy(smoke_cfg)
    cfg.monitor.d_wins_steps = 5
    cfg.training = dataclasses.replace(cfg.training, generator_lr=1e-6, discriminator_lr=2e-3,
                                       steps_per_epoch=30, epochs=1)  # fmt: skip
    cfg.compute.steps_per_execution = per_call
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    mlflow.set_experiment("d-wins")  # not the experiment an earlier test left active elsewhere
    with mlflow.start_run() as run:
        result = train(cfg, observers=[MlflowObserver()])
    tag = mlflow.get_run(run.info.run_id).data.tags["warning.discriminator_wins"]
    assert "the discriminator has won outright since step" in tag
    assert "warning at step" in capsys.readouterr().out
    assert result.steps == 30


class SignalTwiceAt(SignalAt):
    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.g_optimizer.iterations.numpy()) == self.step:
            os.kill(os.getpid(), self.number)
            os.kill(os.getpid(), self.number)


@pytest.mark.faults
def test_a_second_ctrl_c_stops_at_once(smoke_cfg, tmp_path):
    """Issue 9, #2: the second Ctrl-C does not wait for the step and its checkpoint (the CLI
    turns the KeyboardInterrupt into an error line and exit status 130)."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            train(smoke_cfg, checkpoint_dir=tmp_path / "ckpt",
                  callbacks=[SignalTwiceAt(3, signal.SIGINT)])  # fmt: skip
    finally:
        signal.signal(signal.SIGINT, before)
    assert not (tmp_path / "ckpt" / "latest.weights.h5").exists(), "no checkpoint of step 3 or 4"
