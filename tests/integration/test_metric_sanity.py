"""The full sanity grid: in both feature spaces, on real Fashion-MNIST and real colour photos,
FID and KID rise with every step of noise, blur, JPEG compression and dropped classes;
precision falls with noise; recall and coverage fall with dropped classes (the table of
docs/metrics.md comes from the same code, at larger N: benchmarks/metric_sanity.py).

One exception, measured and shown in docs/metrics.md: in the classifier space of the photo
folder (a classifier that tells three photos apart, features of norm ~15), KID's noise (about
1.5 at 500 images, 0.4 at 1,500) is larger than what blur and JPEG change there, so KID is not
asked to follow those two; FID, precision, recall and coverage are."""

from __future__ import annotations

import pytest

from pipeline.evaluation import sanity
from tests.helpers.files import SYSTEM_FASHION_MNIST
from tests.unit.test_benchmarks import load

pytestmark = pytest.mark.skipif(
    not SYSTEM_FASHION_MNIST.is_dir(), reason="Debian's dataset-fashion-mnist is not installed"
)


@pytest.fixture(scope="module")
def grids():
    sizes = {"fashion_mnist": 4000, "photos": 900}  # the classifiers' training images
    return load("metric_sanity").run(n_classifier=500, n_inception=100, classifier_images=sizes)


@pytest.mark.parametrize("dataset", ["fashion_mnist", "photos"])
@pytest.mark.parametrize("space", ["classifier", "inception"])
def test_every_score_moves_the_right_way(grids, dataset, space):
    rows = grids[(dataset, space)]
    blind = ("blur", "jpeg") if (dataset, space) == ("photos", "classifier") else ()
    assert sanity.violations(rows, kid_blind_to=blind) == []
    assert len(rows) == 1 + sum(len(levels) for levels in sanity.LEVELS.values())
