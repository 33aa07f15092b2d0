"""kinora.models.onednn.Linear: bf16 inference through oneDNN with a reordered weight, equal to
F.linear, made again whenever the weight changes, and out of the way of training and copies."""

import copy
import pickle

import pytest
import torch
import torch.nn.functional as F

from kinora.models.onednn import _REORDERED, Linear, onednn_linear

needs_onednn = pytest.mark.skipif(not onednn_linear(), reason="this torch has no oneDNN linear")


def bf16_layer(seed=0) -> Linear:
    torch.manual_seed(seed)
    return Linear(32, 48).to(torch.bfloat16)


@needs_onednn
def test_bf16_inference_takes_the_reordered_path_and_equals_f_linear():
    layer = bf16_layer()
    x = torch.randn(3, 7, 32, dtype=torch.bfloat16)
    with torch.no_grad():
        y = layer(x)
        assert layer in _REORDERED  # the reordered weight was made and kept beside the module
        for rows in (1, 21, 300):  # any row count works with the one reordered weight
            xr = torch.randn(rows, 32, dtype=torch.bfloat16)
            assert torch.equal(layer(xr), F.linear(xr, layer.weight, layer.bias))
    assert y.shape == (3, 7, 48) and y.dtype == torch.bfloat16
    assert torch.equal(y, F.linear(x, layer.weight, layer.bias))


@needs_onednn
def test_a_changed_weight_is_reordered_again():
    layer, other = bf16_layer(0), bf16_layer(1)
    x = torch.randn(5, 32, dtype=torch.bfloat16)
    with torch.no_grad():
        before = layer(x)
        layer.load_state_dict(other.state_dict())  # in place: the weight's version moves
        assert torch.equal(layer(x), other(x)) and not torch.equal(layer(x), before)
        layer.weight.mul_(2)  # an optimizer-like in-place write
        assert torch.equal(layer(x), F.linear(x, layer.weight, layer.bias))
        layer.float().to(torch.bfloat16)  # new storage
        assert torch.equal(layer(x), F.linear(x, layer.weight, layer.bias))


def test_fp32_and_training_run_plain_f_linear_with_gradients():
    torch.manual_seed(0)
    layer = Linear(8, 4)
    x = torch.randn(2, 8, requires_grad=True)
    y = layer(x)
    assert torch.equal(y, F.linear(x, layer.weight, layer.bias)) and layer not in _REORDERED
    y.sum().backward()
    assert layer.weight.grad is not None and x.grad is not None
    lb = bf16_layer()
    xb = torch.randn(2, 32, dtype=torch.bfloat16)
    lb(xb).sum().backward()  # bf16 with gradients on: not the inference path
    assert lb not in _REORDERED and lb.weight.grad is not None


@needs_onednn
def test_a_used_layer_still_copies_pickles_and_saves_only_its_weights():
    layer = bf16_layer()
    x = torch.randn(4, 32, dtype=torch.bfloat16)
    with torch.no_grad():
        y = layer(x)
        twin = copy.deepcopy(layer)  # an opaque oneDNN tensor in the module would refuse both
        back = pickle.loads(pickle.dumps(layer))
        assert torch.equal(twin(x), y) and torch.equal(back(x), y)
    assert set(layer.state_dict()) == {"weight", "bias"}


@needs_onednn
def test_train_eval_and_forget_drop_the_reordered_weight_and_writes_it_cannot_see_need_forget():
    from kinora.models.onednn import forget

    layer = bf16_layer()
    x = torch.randn(5, 32, dtype=torch.bfloat16)
    with torch.no_grad():
        layer(x)
        layer.train()  # a training step may follow (a fused optimizer keeps the weight's version)
        assert layer not in _REORDERED
        layer.eval()
        layer(x)
        layer.weight.data.copy_(torch.randn(48, 32))  # through .data: no new storage, no new version
        forget(layer)
        assert torch.equal(layer(x), F.linear(x, layer.weight, layer.bias))
        layer.weight.data = torch.randn(48, 32, dtype=torch.bfloat16)  # new storage: seen without forget
        assert torch.equal(layer(x), F.linear(x, layer.weight, layer.bias))


@pytest.mark.filterwarnings("ignore:TF32 acceleration on top of oneDNN")  # mkldnn.flags() says it on a CPU build
def test_inference_mode_weights_and_a_disabled_onednn_take_f_linear():
    with torch.inference_mode():
        layer = bf16_layer()  # inference tensors keep no version: nothing to key a copy on
        x = torch.randn(3, 32, dtype=torch.bfloat16)
        assert torch.equal(layer(x), F.linear(x, layer.weight, layer.bias)) and layer not in _REORDERED
    other = bf16_layer(1)
    with torch.no_grad(), torch.backends.mkldnn.flags(enabled=False):
        assert torch.equal(other(x.clone()), F.linear(x.clone(), other.weight, other.bias))
        assert other not in _REORDERED
