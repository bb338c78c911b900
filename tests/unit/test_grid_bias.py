"""`wide-grid`: a bias per position in the coder's 8-px block grid, counted from the frame's corner."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="the model is built with torch (the train extra)")

from ganstream.engines.archs import build_generator  # noqa: E402
from ganstream.engines.archs.srvgg import SRVGGCompact  # noqa: E402
from ganstream.training.presets import generator_arch  # noqa: E402


def _pair() -> tuple[SRVGGCompact, SRVGGCompact]:
    torch.manual_seed(3)
    plain = build_generator(generator_arch("sr", "wide", 2)).eval()
    grid = build_generator(generator_arch("sr", "wide-grid", 2)).eval()
    grid.load_state_dict({**grid.state_dict(), **plain.state_dict()})
    return plain, grid  # type: ignore[return-value]


def test_at_zero_the_grid_model_is_the_plain_one() -> None:
    plain, grid = _pair()
    x = torch.rand(1, 3, 36, 44)
    with torch.no_grad():
        assert torch.equal(plain(x), grid(x))


def test_the_bias_follows_the_grid_from_the_top_left_corner() -> None:
    _, grid = _pair()
    with torch.no_grad():
        grid.grid_bias.rows.normal_(0, 0.5)
        grid.grid_bias.cols.normal_(0, 0.5)
        x = torch.rand(1, 3, 64, 64)
        full = grid(x)
        # a whole block in (8 input px): the same grid phases, so the same output inside (away from
        # the borders, which the receptive field reaches: 10 convolutions at half size)
        moved = grid(x[:, :, 8:, 8:])
        inner = (slice(None), slice(None), slice(48, 80), slice(48, 80))
        assert torch.allclose(full[:, :, 16:, 16:][inner], moved[inner], atol=1e-5)
        # half a block in: the phases differ, so the output does too
        shifted = grid(x[:, :, 4:, 4:])
        assert (full[:, :, 8:, 8:][inner] - shifted[inner]).abs().max() > 1e-3


def test_grid_must_hold_whole_unshuffled_positions() -> None:
    with pytest.raises(ValueError, match="grid"):
        SRVGGCompact(unshuffle=4, grid=4)
    with pytest.raises(ValueError, match="grid"):
        SRVGGCompact(unshuffle=2, grid=6 + 1)


def test_the_grid_biases_learn_at_their_own_rate() -> None:
    from ganstream.training.trainer import GRID_LR_SCALE, generator_param_groups

    plain, grid = _pair()
    assert len(generator_param_groups(plain)) == 1
    rest, biases = generator_param_groups(grid)
    assert biases["lr_scale"] == GRID_LR_SCALE and len(biases["params"]) == 2
    assert len(rest["params"]) + 2 == len(list(grid.parameters()))
