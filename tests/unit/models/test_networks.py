"""Networks from every conf/model option: shapes, value range, the tutorial's discriminator."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.errors import PipelineError
from pipeline.models import MODELS, build_networks, doublings
from tests.helpers.configs import ROOT, compose_config, options, validate_all

SHAPES = [(28, 28, 1), (32, 32, 3), (64, 64, 3), (128, 128, 3)]


@pytest.mark.parametrize("model", options("model"))
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_generator_and_discriminator_shapes(model, shape):
    cfg = validate_all(compose_config([f"model={model}"]))
    generator, discriminator = build_networks(cfg.model, shape)
    noise = np.random.normal(size=(3, cfg.model.latent_dim)).astype("float32")
    images = np.asarray(generator(noise))
    assert images.shape == (3, *shape)
    assert images.min() >= -1.0 and images.max() <= 1.0  # tanh output, like the prepared data
    assert np.asarray(discriminator(images)).shape == (3, 1)


def test_every_model_module_registers_itself():
    """A new file in pipeline/models/ is found without an edit elsewhere."""
    modules = {p.stem for p in (ROOT / "pipeline" / "models").glob("*.py")} - {"__init__"}
    assert modules <= set(MODELS.names())


def test_dcgan_discriminator_is_the_tutorials():
    cfg = validate_all(compose_config(["model=dcgan"]))
    _, d = build_networks(cfg.model, (32, 32, 3))
    convs = [layer for layer in d.layers if layer.__class__.__name__ == "Conv2D"]
    assert [c.filters for c in convs] == [64, 128, 128, 256]
    assert [c.kernel_size for c in convs] == [(3, 3)] * 4
    assert [c.strides for c in convs] == [(1, 1)] + [(2, 2)] * 3
    assert any(layer.__class__.__name__ == "Dropout" and layer.rate == 0.4 for layer in d.layers)


def test_depth_follows_the_image_size():
    """A 4-7 pixel seed doubled up to the size: 7x7 for 28, 6x6 for 48 and 96, 4x4 otherwise."""
    sizes = [28, 32, 48, 64, 96, 128, 256]
    assert [s >> doublings(s, "m") for s in sizes] == [7, 4, 6, 4, 6, 4, 4]
    assert [doublings(s, "m") for s in sizes] == [2, 3, 3, 4, 4, 5, 6]
    for size in (27, 30, 100, 7):
        with pytest.raises(PipelineError, match=f"cannot build {size}x{size}") as e:
            doublings(size, "m")
        assert "28, 32, 48, 64, 96, 128, 256" in e.value.fix


def _layers(model, kind: str) -> list:
    return [layer for layer in model.layers if layer.__class__.__name__ == kind]


@pytest.mark.parametrize(
    ("size", "generator", "discriminator"),
    [
        (28, [(7, 128), (14, 64), (28, 1)], [64, 128]),  # the 28x28 default, unchanged
        (64, [(4, 256), (8, 256), (16, 128), (32, 64), (64, 3)], [64, 128, 256, 256]),
        (128, [(4, 256), (8, 256), (16, 256), (32, 128), (64, 64), (128, 3)],
         [64, 128, 256, 256, 256]),
    ],
)  # fmt: skip
def test_default_model_follows_the_resolution(size, generator, discriminator):
    """The default changes only with dataset.image_size: one stride-2 layer per doubling, the
    channels halving as the grid grows (capped at max_width), D the mirror image; at 28 it is
    the compact DCGAN of before ([128, 64] and [64, 128], 7x7 seed)."""
    cfg = validate_all(compose_config(["model=strided_dcgan"]))
    channels = 1 if size == 28 else 3
    g, d = build_networks(cfg.model, (size, size, channels))
    seed = g.get_layer(index=3).output.shape  # Dense, BN, LeakyReLU, Reshape
    grids = [(seed[1], seed[3])] + [
        (c.output.shape[1], c.filters) for c in _layers(g, "Conv2DTranspose")
    ]
    assert grids == generator
    assert [c.filters for c in _layers(d, "Conv2D")] == discriminator
    assert d.layers[-3].output.shape[1] == size >> len(discriminator)  # down to the seed
    if size == 28:
        assert (g.count_params(), d.count_params()) == (784_640, 138_610)  # as before


def test_resnet_follows_the_resolution_and_keeps_its_28px_shape():
    cfg = validate_all(compose_config(["model=resnet_dcgan", "model.max_width=256"]))
    g, d = build_networks(cfg.model, (64, 64, 3))
    adds = [layer.output.shape[1:] for layer in _layers(g, "Add")]
    assert adds == [(8, 8, 256), (16, 16, 256), (32, 32, 128), (64, 64, 64)]
    assert [layer.output.shape[1:] for layer in _layers(d, "Add")] == [
        (32, 32, 64), (16, 16, 128), (8, 8, 256), (4, 4, 256), (4, 4, 256)
    ]  # fmt: skip
    cfg = validate_all(compose_config(["model=resnet_dcgan"]))
    g, d = build_networks(cfg.model, (28, 28, 1))
    assert [layer.output.shape[1:] for layer in _layers(g, "Add")] == [(14, 14, 64), (28, 28, 64)]
    assert (g.count_params(), d.count_params()) == (562_433, 190_146)  # as before


def test_strided_dcgan_wants_one_way_to_size_its_layers():
    cfg = validate_all(compose_config(["model=strided_dcgan", "model.generator_filters=[64,32]"]))
    with pytest.raises(PipelineError, match="either model.width") as e:
        build_networks(cfg.model, (28, 28, 1))
    assert "null the lists" in e.value.fix
    cfg = validate_all(compose_config(["model=strided_dcgan", "model.max_width=null"]))
    with pytest.raises(PipelineError, match="max_width=None"):
        build_networks(cfg.model, (28, 28, 1))
    cfg = validate_all(compose_config(["model=strided_dcgan"]))
    with pytest.raises(PipelineError, match="square"):
        build_networks(cfg.model, (28, 32, 1))


def test_tf_tutorial_preset_is_the_tutorials_dcgan():
    """TensorFlow's MNIST DCGAN tutorial: 2,330,944 generator and 212,865 discriminator weights."""
    cfg = validate_all(compose_config(["model=strided_dcgan_tutorial"]))
    g, d = build_networks(cfg.model, (28, 28, 1))
    assert (g.count_params(), d.count_params()) == (2_330_944, 212_865)
    transposed = [layer for layer in g.layers if layer.__class__.__name__ == "Conv2DTranspose"]
    assert [(c.filters, c.kernel_size, c.strides) for c in transposed] == [
        (128, (5, 5), (1, 1)), (64, (5, 5), (2, 2)), (1, (5, 5), (2, 2))
    ]  # fmt: skip
    assert [layer.rate for layer in d.layers if layer.__class__.__name__ == "Dropout"] == [0.3] * 2


@pytest.mark.parametrize(
    ("model", "normalized"), [("strided_dcgan", 3), ("dcgan_small", 5), ("resnet_dcgan", 9)]
)
def test_spectral_norm_keeps_the_top_singular_value_near_1(model, normalized):
    from pipeline.gan.recalibrate import all_layers
    from pipeline.training.build import build_gan, seed_everything
    from pipeline.training.settings import GanSettings

    cfg = validate_all(compose_config(["experiment=smoke", f"model={model}",
                                       "model.spectral_norm=true", "loss=hinge"]))  # fmt: skip
    seed_everything(0, deterministic=False)
    cfg.seed, cfg.regularizers = 0, {}
    gan = build_gan((28, 28, 1), GanSettings.from_config(cfg))
    real = np.random.default_rng(0).uniform(-1, 1, (16, 28, 28, 1)).astype("float32")
    for _ in range(10):
        gan.train_step(real)
    gan.discriminator(real, training=True)  # one more normalization after the last update
    wrapped = [layer for layer in all_layers(gan.discriminator)
               if layer.__class__.__name__ == "SpectralNormalization"]  # fmt: skip
    assert len(wrapped) == normalized, "every convolution and the output layer"
    for layer in wrapped:
        kernel = layer.layer.kernel.numpy()
        top = np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]), compute_uv=False)[0]
        assert top == pytest.approx(1.0, abs=0.05), layer.layer.name


def test_minibatch_stddev_channel_measures_the_batchs_variety():
    """The appended channel is the batch's mean feature std: 0 for identical images, larger for
    varied ones; the discriminator (plain and conditional) takes it in and still gives logits."""
    from pipeline.gan.conditional import conditional_networks
    from pipeline.models import minibatch_stddev

    layer = minibatch_stddev()
    same = np.ones((4, 3, 3, 2), "float32")
    varied = np.random.default_rng(0).normal(size=(4, 3, 3, 2)).astype("float32")
    assert np.asarray(layer(same)).shape == (4, 3, 3, 3)
    assert np.asarray(layer(same))[..., -1] == pytest.approx(0.0, abs=1e-3)
    expected = varied.std(axis=0).mean()
    assert np.asarray(layer(varied))[..., -1] == pytest.approx(expected, rel=1e-4)

    cfg = validate_all(compose_config(["model=strided_dcgan", "model.minibatch_std=true"]))
    _, d = build_networks(cfg.model, (28, 28, 1))
    assert any(layer.__class__.__name__ == "MinibatchStddev" for layer in d.layers)
    assert np.asarray(d(varied.repeat(10, 1).repeat(10, 2)[:, :28, :28, :1])).shape == (4, 1)
    _, conditional_d = conditional_networks(cfg.model, (28, 28, 1), 10)
    images = np.zeros((4, 28, 28, 1), "float32")
    assert np.asarray(conditional_d([images, np.arange(4, dtype="int32")])).shape == (4, 1)
