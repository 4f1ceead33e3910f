"""Models: built from a generator (same seed, same weights; torch's global RNG untouched), right output shape."""

from __future__ import annotations

import pytest
import torch

from instahide_bench.core.errors import ConfigError
from instahide_bench.core.training.models import MODELS, build_model, pick_device


@pytest.mark.parametrize("name", sorted(MODELS))
def test_output_has_one_logit_per_class(name: str) -> None:
    model = build_model(name, 7, torch.Generator().manual_seed(0)).eval()
    with torch.no_grad():
        assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 7)


def test_same_seed_same_weights_and_global_rng_untouched() -> None:
    before = torch.random.get_rng_state()
    first = build_model("small-cnn", 10, torch.Generator().manual_seed(3)).state_dict()
    second = build_model("small-cnn", 10, torch.Generator().manual_seed(3)).state_dict()
    other = build_model("small-cnn", 10, torch.Generator().manual_seed(4)).state_dict()
    assert torch.equal(torch.random.get_rng_state(), before)
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert not torch.equal(first["classifier.weight"], other["classifier.weight"])


def test_unknown_model_and_device_are_clear_errors() -> None:
    with pytest.raises(ConfigError, match="small-cnn"):
        build_model("vgg", 10, torch.Generator())
    with pytest.raises(ConfigError, match="device"):
        pick_device("no-such-device")
    assert pick_device("cpu").type == "cpu"
    assert pick_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_the_torch_free_model_names_match_the_models() -> None:
    """The CLI lists ``MODEL_NAMES`` without importing torch; every name must build, and no model is missing."""
    from instahide_bench.core.model_names import DEFAULT_MODEL, MODEL_NAMES
    from instahide_bench.core.training.models import MODELS

    assert sorted(MODEL_NAMES) == sorted(MODELS) and DEFAULT_MODEL in MODELS
