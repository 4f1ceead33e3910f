#!/usr/bin/env python
"""The defenders' pretraining claim at full scale, for a GPU: ResNet-18 pretrained on CIFAR-100, fine-tuned.

    python scripts/gpu_pretraining_protocol.py --cifar100 PATH/cifar-100-python --cifar10 PATH/cifar-10-batches-py \
        [--preset instahide-inside] [--T 10] [--pretrain-epochs 200] [--device cuda] [--out gpu-pretraining]

The authors' statement: pretraining a ResNet-18 on CIFAR-100 and fine-tuning it for 10 epochs on
InstaHide encodings of CIFAR-10 gives 83% test accuracy. This script runs that protocol with the
suite's recipe (``instahide-bench utility``): ResNet-18, SGD with momentum 0.9, learning rate 0.1
divided by 10 at half and three quarters, batch 128, crop-flip augmentation; pretraining on
the 50,000 clean CIFAR-100 training images for ``--pretrain-epochs`` (the authors' 200), tested on
its 10,000 test images; then ``--T`` epochs on fresh encodings of the 50,000 CIFAR-10 training
images (one epoch per encryption), tested on CIFAR-10's test batch, with the same run without
encoding as the baseline. It writes ``OUT/utility.json`` (curves included) and prints both
accuracies. Every stage checkpoints each epoch; rerunning the same command resumes.

CIFAR-100 is read from its python folder (``train``, ``test``, ``meta``) with the suite's
restricted unpickler (no code runs from the files) and converted once to ``OUT/cifar100-*.npz``.
On 2 CPU cores one pretraining epoch of ResNet-18 takes hours: run it where a GPU is lent.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

from instahide_bench.benchmark.utility import UtilityRequest, run_utility
from instahide_bench.core.data.cifar10 import _field, safe_unpickle
from instahide_bench.core.io import save_npz_atomic
from instahide_bench.core.training import TrainConfig


def cifar100_npz(folder: Path, split: str, out: Path) -> Path:
    """``train`` or ``test`` of a ``cifar-100-python`` folder as an npz of NHWC uint8 images, fine labels, names."""
    target = out / f"cifar100-{split}.npz"
    if target.is_file():
        return target
    record = safe_unpickle(folder / split)
    data = np.asarray(_field(record, "data", folder / split), np.uint8)
    labels = np.asarray(_field(record, "fine_labels", folder / split), np.int64)
    names = [
        n.decode() if isinstance(n, bytes) else str(n)
        for n in _field(safe_unpickle(folder / "meta"), "fine_label_names", folder / "meta")
    ]
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    save_npz_atomic(target, {"images": np.ascontiguousarray(images), "labels": labels, "class_names": np.array(names)})
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cifar100", required=True, help="the cifar-100-python folder (train, test, meta)")
    parser.add_argument("--cifar10", required=True, help="the cifar-10-batches-py folder")
    parser.add_argument("--preset", default="instahide-inside")
    parser.add_argument("--public", default="embedded", help="public pool of cross-dataset presets")
    parser.add_argument("--T", type=int, default=10, help="fine-tuning epochs, one encryption each (default 10)")
    parser.add_argument("--pretrain-epochs", type=int, default=200)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--out", default="gpu-pretraining")
    parser.add_argument("--rows", type=int, default=None, help="a smoke test's size: images of each set (default all)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    folder = Path(args.cifar100)
    train, test = cifar100_npz(folder, "train", out), cifar100_npz(folder, "test", out)
    config = TrainConfig(model="resnet18", epochs=args.T, augment="crop-flip", device=args.device)
    request = UtilityRequest(
        encoder=args.preset,
        overrides={"T": args.T},
        private=f"cifar10:{args.cifar10}",
        public=args.public,
        pretrain=f"npy:{train}",
        pretrain_test=f"npy:{test}",
        pretrain_epochs=args.pretrain_epochs,
        pretrain_rows=args.rows,
        rows=args.rows,
        test_rows=args.rows,
        train=config,
    )
    result = run_utility(request, out / "run", resume=True)
    print(
        f"{args.preset}, T={args.T}, ResNet-18 pretrained {args.pretrain_epochs} epochs on CIFAR-100 "
        f"({result.pretrain_accuracy:.4f} on its test set): encoded {result.accuracy:.4f}, "
        f"baseline {result.baseline_accuracy:.4f} (the authors report 0.83 encoded)"
    )


if __name__ == "__main__":
    main()
