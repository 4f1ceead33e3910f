"""The U-Net: shapes, range, seeded weights that leave torch's global generator alone."""

from __future__ import annotations

import torch

from instahide_bench.attacks.learned_inversion.network import InversionNet


def test_output_is_an_image_in_the_unit_range() -> None:
    network = InversionNet(side=7, width=4, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        output = network(torch.rand(5, 3, 32, 32), torch.rand(5, 7))
    assert output.shape == (5, 3, 32, 32) and float(output.min()) >= 0 and float(output.max()) <= 1


def test_weights_come_from_the_given_generator_only() -> None:
    before = torch.random.get_rng_state()
    first = InversionNet(6, 4, torch.Generator().manual_seed(3)).state_dict()
    again = InversionNet(6, 4, torch.Generator().manual_seed(3)).state_dict()
    other = InversionNet(6, 4, torch.Generator().manual_seed(4)).state_dict()
    assert torch.equal(before, torch.random.get_rng_state())
    assert all(torch.equal(first[name], again[name]) for name in first)
    assert not torch.equal(first["stem.weight"], other["stem.weight"])
