import pytest
import torch

from toposcale.train.model import GPT, GPTConfig
from toposcale.plan.sizing import build_shape, non_embedding_params, total_params


@pytest.mark.parametrize("activation", ["gelu", "swiglu"])
@pytest.mark.parametrize("target", [3000, 10_000, 25_000, 56_000, 99_000, 198_000, 444_000, 1_500_000])
def test_builder_hits_target_and_matches_model(target, activation):
    head_dim = 8 if target < 10_000 else 16
    shape = build_shape(target, activation, head_dim=head_dim)
    assert abs(shape.n_nonembed / target - 1) <= 0.10
    with torch.device("meta"):
        model = GPT(GPTConfig(vocab_size=256, seq_len=64, d_model=shape.d_model, n_layers=shape.n_layers,
                              n_heads=shape.n_heads, activation=activation))
    assert model.n_params(non_embedding=True) == shape.n_nonembed == non_embedding_params(
        shape.d_model, shape.n_layers, activation)
    assert model.n_params(non_embedding=False) == total_params(shape.d_model, shape.n_layers, activation, 256, 64)


def test_gelu_and_swiglu_counts_nearly_equal():
    for d in (32, 64, 96, 128):
        g, s = non_embedding_params(d, 2, "gelu"), non_embedding_params(d, 2, "swiglu")
        assert abs(g - s) / g < 0.01


def test_impossible_target_is_a_clear_error():
    with pytest.raises(ValueError, match="target_params"):
        build_shape(500, "gelu")
