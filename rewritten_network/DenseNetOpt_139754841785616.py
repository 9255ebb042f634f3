import sys
import mindspore
from mindspore import nn
from mindspore.nn import Cell
from mindspore.ops import functional as F
#
#
sys.path.insert(0, '/work/venv/lib/python3.11/site-packages/mindspore/nn/layer')
from mindspore.nn.cell import Cell
from mindspore.nn.layer.conv import _Conv

class _ConvOpt(_Conv, Cell):

    def __init__(self):
        Cell.__init__(self)
        for key, value in _Conv.__dict__.items():
            if not key.startswith('__'):
                setattr(_ConvOpt, key, value)
#
sys.path.insert(0, '/work/venv/lib/python3.11/site-packages/mindspore/nn/layer')
from mindspore.nn.layer.normalization import _BatchNorm

class _BatchNormOpt(_BatchNorm, Cell):

    def __init__(self):
        Cell.__init__(self)
        for key, value in _BatchNorm.__dict__.items():
            if not key.startswith('__'):
                setattr(_BatchNormOpt, key, value)
#
sys.path.insert(0, '/work/venv/lib/python3.11/site-packages/mindspore/ops/function/grad')
from mindspore.ops.operations.other_ops import stop_gradient_op
from mindspore.ops.function.grad.grad_func import stop_gradient_op as stop_gradient_op_1

def stop_gradient_opt(value):
    stop_gradient_op_var = stop_gradient_op_1(value)
    return stop_gradient_op_var
#
sys.path.insert(0, '/work/venv/lib/python3.11/site-packages/mindspore/nn/layer')
from mindspore.nn.layer.pooling import _PoolNd

class _PoolNdOpt(_PoolNd, Cell):

    def __init__(self):
        Cell.__init__(self)
        for key, value in _PoolNd.__dict__.items():
            if not key.startswith('__'):
                setattr(_PoolNdOpt, key, value)
#
sys.path.insert(0, '/work/venv/lib/python3.11/site-packages/mindspore/nn/layer')
from mindspore.nn.layer.pooling import MaxPool2d

class MaxPool2dOpt(MaxPool2d, _PoolNdOpt):

    def __init__(self, obj):
        _PoolNdOpt.__init__(self)
        for key, value in obj.__dict__.items():
            setattr(self, key, value)

    def construct(self, x):
        expand_batch = False
        compare_var = x.ndim == 3
        if compare_var:
            x = x.unsqueeze(0)
            expand_batch = True
        if self.use_pad:
            x = x.unsqueeze(2)
            out = self.max_pool(x)
            isinstance_var = isinstance(out, tuple)
            if isinstance_var:
                subscript_var_1 = out[1]
                squeeze_var_1 = subscript_var_1.squeeze(2)
                subscript_var = out[0]
                squeeze_var = subscript_var.squeeze(2)
                out = (squeeze_var, squeeze_var_1)
            else:
                out = out.squeeze(2)
        else:
            out = self.max_pool(x)
        if expand_batch:
            isinstance_var_1 = isinstance(out, tuple)
            if isinstance_var_1:
                subscript_var_3 = out[1]
                squeeze_var_3 = subscript_var_3.squeeze(0)
                subscript_var_2 = out[0]
                squeeze_var_2 = subscript_var_2.squeeze(0)
                out = (squeeze_var_2, squeeze_var_3)
            else:
                out = out.squeeze(0)
        and_var = self.use_pad and (not self.return_indices)
        if and_var:
            subscript_var_4 = out[0]
            return subscript_var_4
        return out
#
sys.path.insert(0, '/work/venv/lib/python3.11/site-packages/mindspore/nn/layer')
from mindspore.nn.layer.basic import Pad

class PadOpt(Pad, Cell):

    def __init__(self, obj):
        Cell.__init__(self)
        for key, value in obj.__dict__.items():
            setattr(self, key, value)

    def construct(self, x):
        compare_var = self.mode == 'CONSTANT'
        if compare_var:
            x = self.pad(x)
        else:
            x = self.pad(x, self.paddings)
        return x
#
sys.path.insert(0, '/work/venv/lib/python3.11/site-packages/mindspore/nn/layer')
from mindspore.nn.layer.activation import ReLU
from mindspore.train.amp import amp_cast

class ReLUOpt_10(ReLU, Cell):

    def __init__(self, obj):
        Cell.__init__(self)
        for key, value in obj.__dict__.items():
            setattr(self, key, value)

    def construct(self, input):
        input = amp_cast(input, mindspore.float16)
        relu_var = self.relu(input)
        relu_var = amp_cast(relu_var, mindspore.float32)
        return relu_var
#
sys.path.insert(0, '/work/venv/lib/python3.11/site-packages/mindspore/nn/layer')
from mindspore.nn.layer.conv import Conv2d

class Conv2dOpt_8(Conv2d, _ConvOpt):

    def __init__(self, obj):
        _ConvOpt.__init__(self)
        for key, value in obj.__dict__.items():
            setattr(self, key, value)

    def construct(self, x):
        x = amp_cast(x, mindspore.float16)
        weight_var = amp_cast(self.weight, mindspore.float16)
        output = self.conv2d(x, weight_var)
        output = amp_cast(output, mindspore.float32)
        if self.has_bias:
            output_var = amp_cast(output, mindspore.float16)
            bias_var = amp_cast(self.bias, mindspore.float16)
            output = self.bias_add(output_var, bias_var)
            output = amp_cast(output, mindspore.float32)
        return output
#
sys.path.insert(0, '/work/venv/lib/python3.11/site-packages/mindspore/nn/layer')

class ReLUOpt_8(ReLU, Cell):

    def __init__(self, obj):
        Cell.__init__(self)
        for key, value in obj.__dict__.items():
            setattr(self, key, value)

    def construct(self, input):
        input = amp_cast(input, mindspore.float16)
        relu_var = self.relu(input)
        relu_var = amp_cast(relu_var, mindspore.float32)
        return relu_var
#
sys.path.insert(0, '/work/venv/lib/python3.11/site-packages/mindspore/nn/layer')

class Conv2dOpt_9(Conv2d, _ConvOpt):

    def __init__(self, obj):
        _ConvOpt.__init__(self)
        for key, value in obj.__dict__.items():
            setattr(self, key, value)

    def construct(self, x):
        x = amp_cast(x, mindspore.float16)
        weight_var = amp_cast(self.weight, mindspore.float16)
        output = self.conv2d(x, weight_var)
        output = amp_cast(output, mindspore.float32)
        if self.has_bias:
            output_var = amp_cast(output, mindspore.float16)
            bias_var = amp_cast(self.bias, mindspore.float16)
            output = self.bias_add(output_var, bias_var)
            output = amp_cast(output, mindspore.float32)
        return output
#
sys.path.insert(0, '/work/venv/lib/python3.11/site-packages/mindspore/nn/layer')

class ReLUOpt_9(ReLU, Cell):

    def __init__(self, obj):
        Cell.__init__(self)
        for key, value in obj.__dict__.items():
            setattr(self, key, value)

    def construct(self, input):
        input = amp_cast(input, mindspore.float16)
        relu_var = self.relu(input)
        relu_var = amp_cast(relu_var, mindspore.float32)
        return relu_var
#
sys.path.insert(0, '/work/main/mindcv/models')
from mindspore import nn, ops
from mindcv.models.densenet import _DenseLayer
from mindcv.models.densenet import ops as ops_1

class _DenseLayerOpt_3(_DenseLayer, nn.Cell):

    def __init__(self, obj):
        nn.Cell.__init__(self)
        for key, value in obj.__dict__.items():
            setattr(self, key, value)
        self.norm1 = BatchNorm2dOpt(self.norm1)
        self.relu1 = ReLUOpt_8(self.relu1)
        self.conv1 = Conv2dOpt_8(self.conv1)
        self.norm2 = BatchNorm2dOpt(self.norm2)
        self.relu2 = ReLUOpt_9(self.relu2)
        self.conv2 = Conv2dOpt_9(self.conv2)
        self.dropout = IdentityOpt(self.dropout)

    def bottleneck(self, x):
        and_var = self.memory_efficient and self.training
        if and_var:
            mean, var = self._batch_statistics(x)
            recomputed_bottleneck_var = self.recomputed_bottleneck(x, mean, var, self.norm1.gamma, self.norm1.beta, self.conv1.weight)
            return recomputed_bottleneck_var
        norm1_var = self.norm1(x)
        relu1_var = self.relu1(norm1_var)
        conv1_var = self.conv1(relu1_var)
        return conv1_var

    def _batch_statistics(self, x):
        tuple_var_2 = (0, 2, 3)
        mean = x.mean(axis=tuple_var_2)
        tuple_var_1 = (0, 2, 3)
        usub_var = -1
        reshape_var = mean.reshape(1, usub_var, 1, 1)
        sub_var_3 = x - reshape_var
        pow_var = sub_var_3 ** 2
        var = pow_var.mean(axis=tuple_var_1)
        subscript_var = x.shape[3]
        subscript_var_2 = x.shape[2]
        subscript_var_1 = x.shape[0]
        mult_var_4 = subscript_var_1 * subscript_var_2
        count = mult_var_4 * subscript_var
        sub_var_2 = count - 1
        max_var = max(sub_var_2, 1)
        div_var = count / max_var
        stop_gradient_var_1 = stop_gradient_opt(var)
        unbiased = stop_gradient_var_1 * div_var
        weight = self.norm1.momentum
        stop_gradient_var = stop_gradient_opt(mean)
        mult_var_3 = stop_gradient_var * weight
        sub_var_1 = 1 - weight
        mult_var_2 = self.norm1.moving_mean * sub_var_1
        add_var_1 = mult_var_2 + mult_var_3
        ops_1.assign(self.norm1.moving_mean, add_var_1)
        mult_var_1 = unbiased * weight
        sub_var = 1 - weight
        mult_var = self.norm1.moving_variance * sub_var
        add_var = mult_var + mult_var_1
        ops_1.assign(self.norm1.moving_variance, add_var)
        tuple_var = (mean, var)
        return tuple_var

    def construct(self, x):
        bottleneck_var = self.bottleneck(x)
        norm2_var = self.norm2(bottleneck_var)
        relu2_var = self.relu2(norm2_var)
        out = self.conv2(relu2_var)
        dropout_var = self.dropout(out)
        return dropout_var
#
sys.path.insert(0, '/work/venv/lib/python3.11/site-packages/mindspore/nn/layer')

class Conv2dOpt_6(Conv2d, _ConvOpt):

    def __init__(self, obj):
        _ConvOpt.__init__(self)
        for key, value in obj.__dict__.items():
            setattr(self, key, value)

    def construct(self, x):
        x = amp_cast(x, mindspore.float16)
        weight_var = amp_cast(self.weight, mindspore.float16)
        output = self.conv2d(x, weight_var)
        output = amp_cast(output, mindspore.float32)
        if self.has_bias:
            output_var = amp_cast(output, mindspore.float16)
            bias_var = amp_cast(self.bias, mindspore.float16)
            output = self.bias_add(output_var, bias_var)
            output = amp_cast(output, mindspore.float32)
        return output
#
sys.path.insert(0, '/work/venv/lib/python3.11/site-packages/mindspore/nn/layer')

class ReLUOpt_6(ReLU, Cell):

    def __init__(self, obj):
        Cell.__init__(self)
        for key, value in obj.__dict__.items():
            setattr(self, key, value)

    def construct(self, input):
        input = amp_cast(input, mindspore.float16)
        relu_var = self.relu(input)
        relu_var = amp_cast(relu_var, mindspore.float32)
        return relu_var
#
sys.path.insert(0, '/work/venv/lib/python3.11/site-packages/mindspore/nn/layer')

class Conv2dOpt_7(Conv2d, _ConvOpt):

    def __init__(self, obj):
        _ConvOpt.__init__(self)
        for key, value in obj.__dict__.items():
            setattr(self, key, value)

    def construct(self, x):
        x = amp_cast(x, mindspore.float16)
        weight_var = amp_cast(self.weight, mindspore.float16)
        output = self.conv2d(x, weight_var)
        output = amp_cast(output, mindspore.float32)
        if self.has_bias:
            output_var = amp_cast(output, mindspore.float16)
            bias_var = amp_cast(self.bias, mindspore.float16)
            output = self.bias_add(output_var, bias_var)
            output = amp_cast(output, mindspore.float32)
        return output
#
sys.path.insert(0, '/work/venv/lib/python3.11/site-packages/mindspore/nn/layer')

class ReLUOpt_7(ReLU, Cell):

    def __init__(self, obj):
        Cell.__init__(self)
        for key, value in obj.__dict__.items():
            setattr(self, key, value)

    def construct(self, input):
        input = amp_cast(input, mindspore.float16)
        relu_var = self.relu(input)
        relu_var = amp_cast(relu_var, mindspore.float32)
        return relu_var
#
sys.path.insert(0, '/work/main/mindcv/models')

class _DenseLayerOpt_2(_DenseLayer, nn.Cell):

    def __init__(self, obj):
        nn.Cell.__init__(self)
        for key, value in obj.__dict__.items():
            setattr(self, key, value)
        self.norm1 = BatchNorm2dOpt(self.norm1)
        self.relu1 = ReLUOpt_6(self.relu1)
        self.conv1 = Conv2dOpt_6(self.conv1)
        self.norm2 = BatchNorm2dOpt(self.norm2)
        self.relu2 = ReLUOpt_7(self.relu2)
        self.conv2 = Conv2dOpt_7(self.conv2)
        self.dropout = IdentityOpt(self.dropout)

    def bottleneck(self, x):
        and_var = self.memory_efficient and self.training
        if and_var:
            mean, var = self._batch_statistics(x)
            recomputed_bottleneck_var = self.recomputed_bottleneck(x, mean, var, self.norm1.gamma, self.norm1.beta, self.conv1.weight)
            return recomputed_bottleneck_var
        norm1_var = self.norm1(x)
        relu1_var = self.relu1(norm1_var)
        conv1_var = self.conv1(relu1_var)
        return conv1_var

    def _batch_statistics(self, x):
        tuple_var_2 = (0, 2, 3)
        mean = x.mean(axis=tuple_var_2)
        tuple_var_1 = (0, 2, 3)
        usub_var = -1
        reshape_var = mean.reshape(1, usub_var, 1, 1)
        sub_var_3 = x - reshape_var
        pow_var = sub_var_3 ** 2
        var = pow_var.mean(axis=tuple_var_1)
        subscript_var = x.shape[3]
        subscript_var_2 = x.shape[2]
        subscript_var_1 = x.shape[0]
        mult_var_4 = subscript_var_1 * subscript_var_2
        count = mult_var_4 * subscript_var
        sub_var_2 = count - 1
        max_var = max(sub_var_2, 1)
        div_var = count / max_var
        stop_gradient_var_1 = stop_gradient_opt(var)
        unbiased = stop_gradient_var_1 * div_var
        weight = self.norm1.momentum
        stop_gradient_var = stop_gradient_opt(mean)
        mult_var_3 = stop_gradient_var * weight
        sub_var_1 = 1 - weight
        mult_var_2 = self.norm1.moving_mean * sub_var_1
        add_var_1 = mult_var_2 + mult_var_3
        ops_1.assign(self.norm1.moving_mean, add_var_1)
        mult_var_1 = unbiased * weight
        sub_var = 1 - weight
        mult_var = self.norm1.moving_variance * sub_var
        add_var = mult_var + mult_var_1
        ops_1.assign(self.norm1.moving_variance, add_var)
        tuple_var = (mean, var)
        return tuple_var

    def construct(self, x):
        bottleneck_var = self.bottleneck(x)
        norm2_var = self.norm2(bottleneck_var)
        relu2_var = self.relu2(norm2_var)
        out = self.conv2(relu2_var)
        dropout_var = self.dropout(out)
        return dropout_var
#
sys.path.insert(0, '/work/main/mindcv/models')
from mindcv.models.densenet import _DenseBlock

class _DenseBlockOpt_1(_DenseBlock, nn.Cell):

    def __init__(self, obj):
        nn.Cell.__init__(self)
        for key, value in obj.__dict__.items():
            setattr(self, key, value)
        self.cell_list[0] = _DenseLayerOpt_2(self.cell_list[0])
        self.cell_list[1] = _DenseLayerOpt_3(self.cell_list[1])

    def construct(self, x):
        self_cell_list = self.cell_list
        for layer in self_cell_list:
            layer_var = layer(x)
            tuple_var = (x, layer_var)
            x = self.concat(tuple_var)
        return x
#
sys.path.insert(0, '/work/venv/lib/python3.11/site-packages/mindspore/nn/layer')
from mindspore.nn.layer.pooling import AvgPool2d

class AvgPool2dOpt(AvgPool2d, _PoolNdOpt):

    def __init__(self, obj):
        _PoolNdOpt.__init__(self)
        for key, value in obj.__dict__.items():
            setattr(self, key, value)

    def construct(self, x):
        expand_batch = False
        compare_var = x.ndim == 3
        if compare_var:
            x = x.unsqueeze(0)
            expand_batch = True
        if self.is_expand:
            x = x.unsqueeze(2)
            out = self.avg_pool(x)
            res = out.squeeze(2)
        else:
            res = self.avg_pool(x)
        if expand_batch:
            res = res.squeeze(0)
        return res
#
sys.path.insert(0, '/work/venv/lib/python3.11/site-packages/mindspore/nn/layer')

class Conv2dOpt_5(Conv2d, _ConvOpt):

    def __init__(self, obj):
        _ConvOpt.__init__(self)
        for key, value in obj.__dict__.items():
            setattr(self, key, value)

    def construct(self, x):
        x = amp_cast(x, mindspore.float16)
        weight_var = amp_cast(self.weight, mindspore.float16)
        output = self.conv2d(x, weight_var)
        output = amp_cast(output, mindspore.float32)
        if self.has_bias:
            output_var = amp_cast(output, mindspore.float16)
            bias_var = amp_cast(self.bias, mindspore.float16)
            output = self.bias_add(output_var, bias_var)
            output = amp_cast(output, mindspore.float32)
        return output
#
sys.path.insert(0, '/work/venv/lib/python3.11/site-packages/mindspore/nn/layer')

class ReLUOpt_5(ReLU, Cell):

    def __init__(self, obj):
        Cell.__init__(self)
        for key, value in obj.__dict__.items():
            setattr(self, key, value)

    def construct(self, input):
        input = amp_cast(input, mindspore.float16)
        relu_var = self.relu(input)
        relu_var = amp_cast(relu_var, mindspore.float32)
        return relu_var
#
sys.path.insert(0, '/work/main/mindcv/models')
from mindcv.models.densenet import _Transition

class _TransitionOpt(_Transition, nn.Cell):

    def __init__(self, obj):
        nn.Cell.__init__(self)
        for key, value in obj.__dict__.items():
            setattr(self, key, value)
        self.features[0] = BatchNorm2dOpt(self.features[0])
        self.features[1] = ReLUOpt_5(self.features[1])
        self.features[2] = Conv2dOpt_5(self.features[2])
        self.features[3] = AvgPool2dOpt(self.features[3])

    def construct(self, x):
        features_var = self.features(x)
        return features_var
#
sys.path.insert(0, '/work/venv/lib/python3.11/site-packages/mindspore/nn/layer')

class Conv2dOpt_3(Conv2d, _ConvOpt):

    def __init__(self, obj):
        _ConvOpt.__init__(self)
        for key, value in obj.__dict__.items():
            setattr(self, key, value)

    def construct(self, x):
        x = amp_cast(x, mindspore.float16)
        weight_var = amp_cast(self.weight, mindspore.float16)
        output = self.conv2d(x, weight_var)
        output = amp_cast(output, mindspore.float32)
        if self.has_bias:
            output_var = amp_cast(output, mindspore.float16)
            bias_var = amp_cast(self.bias, mindspore.float16)
            output = self.bias_add(output_var, bias_var)
            output = amp_cast(output, mindspore.float32)
        return output
#
sys.path.insert(0, '/work/venv/lib/python3.11/site-packages/mindspore/nn/layer')

class ReLUOpt_3(ReLU, Cell):

    def __init__(self, obj):
        Cell.__init__(self)
        for key, value in obj.__dict__.items():
            setattr(self, key, value)

    def construct(self, input):
        input = amp_cast(input, mindspore.float16)
        relu_var = self.relu(input)
        relu_var = amp_cast(relu_var, mindspore.float32)
        return relu_var
#
sys.path.insert(0, '/work/venv/lib/python3.11/site-packages/mindspore/nn/layer')

class Conv2dOpt_4(Conv2d, _ConvOpt):

    def __init__(self, obj):
        _ConvOpt.__init__(self)
        for key, value in obj.__dict__.items():
            setattr(self, key, value)

    def construct(self, x):
        x = amp_cast(x, mindspore.float16)
        weight_var = amp_cast(self.weight, mindspore.float16)
        output = self.conv2d(x, weight_var)
        output = amp_cast(output, mindspore.float32)
        if self.has_bias:
            output_var = amp_cast(output, mindspore.float16)
            bias_var = amp_cast(self.bias, mindspore.float16)
            output = self.bias_add(output_var, bias_var)
            output = amp_cast(output, mindspore.float32)
        return output
#
sys.path.insert(0, '/work/venv/lib/python3.11/site-packages/mindspore/nn/layer')

class ReLUOpt_4(ReLU, Cell):

    def __init__(self, obj):
        Cell.__init__(self)
        for key, value in obj.__dict__.items():
            setattr(self, key, value)

    def construct(self, input):
        input = amp_cast(input, mindspore.float16)
        relu_var = self.relu(input)
        relu_var = amp_cast(relu_var, mindspore.float32)
        return relu_var
#
sys.path.insert(0, '/work/main/mindcv/models')

class _DenseLayerOpt_1(_DenseLayer, nn.Cell):

    def __init__(self, obj):
        nn.Cell.__init__(self)
        for key, value in obj.__dict__.items():
            setattr(self, key, value)
        self.norm1 = BatchNorm2dOpt(self.norm1)
        self.relu1 = ReLUOpt_3(self.relu1)
        self.conv1 = Conv2dOpt_3(self.conv1)
        self.norm2 = BatchNorm2dOpt(self.norm2)
        self.relu2 = ReLUOpt_4(self.relu2)
        self.conv2 = Conv2dOpt_4(self.conv2)
        self.dropout = IdentityOpt(self.dropout)

    def bottleneck(self, x):
        and_var = self.memory_efficient and self.training
        if and_var:
            mean, var = self._batch_statistics(x)
            recomputed_bottleneck_var = self.recomputed_bottleneck(x, mean, var, self.norm1.gamma, self.norm1.beta, self.conv1.weight)
            return recomputed_bottleneck_var
        norm1_var = self.norm1(x)
        relu1_var = self.relu1(norm1_var)
        conv1_var = self.conv1(relu1_var)
        return conv1_var

    def _batch_statistics(self, x):
        tuple_var_2 = (0, 2, 3)
        mean = x.mean(axis=tuple_var_2)
        tuple_var_1 = (0, 2, 3)
        usub_var = -1
        reshape_var = mean.reshape(1, usub_var, 1, 1)
        sub_var_3 = x - reshape_var
        pow_var = sub_var_3 ** 2
        var = pow_var.mean(axis=tuple_var_1)
        subscript_var = x.shape[3]
        subscript_var_2 = x.shape[2]
        subscript_var_1 = x.shape[0]
        mult_var_4 = subscript_var_1 * subscript_var_2
        count = mult_var_4 * subscript_var
        sub_var_2 = count - 1
        max_var = max(sub_var_2, 1)
        div_var = count / max_var
        stop_gradient_var_1 = stop_gradient_opt(var)
        unbiased = stop_gradient_var_1 * div_var
        weight = self.norm1.momentum
        stop_gradient_var = stop_gradient_opt(mean)
        mult_var_3 = stop_gradient_var * weight
        sub_var_1 = 1 - weight
        mult_var_2 = self.norm1.moving_mean * sub_var_1
        add_var_1 = mult_var_2 + mult_var_3
        ops_1.assign(self.norm1.moving_mean, add_var_1)
        mult_var_1 = unbiased * weight
        sub_var = 1 - weight
        mult_var = self.norm1.moving_variance * sub_var
        add_var = mult_var + mult_var_1
        ops_1.assign(self.norm1.moving_variance, add_var)
        tuple_var = (mean, var)
        return tuple_var

    def construct(self, x):
        bottleneck_var = self.bottleneck(x)
        norm2_var = self.norm2(bottleneck_var)
        relu2_var = self.relu2(norm2_var)
        out = self.conv2(relu2_var)
        dropout_var = self.dropout(out)
        return dropout_var
#
sys.path.insert(0, '/work/venv/lib/python3.11/site-packages/mindspore/nn/layer')

class Conv2dOpt_1(Conv2d, _ConvOpt):

    def __init__(self, obj):
        _ConvOpt.__init__(self)
        for key, value in obj.__dict__.items():
            setattr(self, key, value)

    def construct(self, x):
        x = amp_cast(x, mindspore.float16)
        weight_var = amp_cast(self.weight, mindspore.float16)
        output = self.conv2d(x, weight_var)
        output = amp_cast(output, mindspore.float32)
        if self.has_bias:
            output_var = amp_cast(output, mindspore.float16)
            bias_var = amp_cast(self.bias, mindspore.float16)
            output = self.bias_add(output_var, bias_var)
            output = amp_cast(output, mindspore.float32)
        return output
#
sys.path.insert(0, '/work/venv/lib/python3.11/site-packages/mindspore/nn/layer')

class ReLUOpt_1(ReLU, Cell):

    def __init__(self, obj):
        Cell.__init__(self)
        for key, value in obj.__dict__.items():
            setattr(self, key, value)

    def construct(self, input):
        input = amp_cast(input, mindspore.float16)
        relu_var = self.relu(input)
        relu_var = amp_cast(relu_var, mindspore.float32)
        return relu_var
#
sys.path.insert(0, '/work/venv/lib/python3.11/site-packages/mindspore/nn/layer')
from mindspore.nn.layer.basic import Identity

class IdentityOpt(Identity, Cell):

    def __init__(self, obj):
        Cell.__init__(self)
        for key, value in obj.__dict__.items():
            setattr(self, key, value)

    def construct(self, input):
        return input
#
sys.path.insert(0, '/work/venv/lib/python3.11/site-packages/mindspore/nn/layer')

class Conv2dOpt_2(Conv2d, _ConvOpt):

    def __init__(self, obj):
        _ConvOpt.__init__(self)
        for key, value in obj.__dict__.items():
            setattr(self, key, value)

    def construct(self, x):
        x = amp_cast(x, mindspore.float16)
        weight_var = amp_cast(self.weight, mindspore.float16)
        output = self.conv2d(x, weight_var)
        output = amp_cast(output, mindspore.float32)
        if self.has_bias:
            output_var = amp_cast(output, mindspore.float16)
            bias_var = amp_cast(self.bias, mindspore.float16)
            output = self.bias_add(output_var, bias_var)
            output = amp_cast(output, mindspore.float32)
        return output
#
sys.path.insert(0, '/work/venv/lib/python3.11/site-packages/mindspore/nn/layer')

class ReLUOpt_2(ReLU, Cell):

    def __init__(self, obj):
        Cell.__init__(self)
        for key, value in obj.__dict__.items():
            setattr(self, key, value)

    def construct(self, input):
        input = amp_cast(input, mindspore.float16)
        relu_var = self.relu(input)
        relu_var = amp_cast(relu_var, mindspore.float32)
        return relu_var
#
sys.path.insert(0, '/work/main/mindcv/models')

class _DenseLayerOpt(_DenseLayer, nn.Cell):

    def __init__(self, obj):
        nn.Cell.__init__(self)
        for key, value in obj.__dict__.items():
            setattr(self, key, value)
        self.norm1 = BatchNorm2dOpt(self.norm1)
        self.relu1 = ReLUOpt_1(self.relu1)
        self.conv1 = Conv2dOpt_1(self.conv1)
        self.norm2 = BatchNorm2dOpt(self.norm2)
        self.relu2 = ReLUOpt_2(self.relu2)
        self.conv2 = Conv2dOpt_2(self.conv2)
        self.dropout = IdentityOpt(self.dropout)

    def bottleneck(self, x):
        and_var = self.memory_efficient and self.training
        if and_var:
            mean, var = self._batch_statistics(x)
            recomputed_bottleneck_var = self.recomputed_bottleneck(x, mean, var, self.norm1.gamma, self.norm1.beta, self.conv1.weight)
            return recomputed_bottleneck_var
        norm1_var = self.norm1(x)
        relu1_var = self.relu1(norm1_var)
        conv1_var = self.conv1(relu1_var)
        return conv1_var

    def _batch_statistics(self, x):
        tuple_var_2 = (0, 2, 3)
        mean = x.mean(axis=tuple_var_2)
        tuple_var_1 = (0, 2, 3)
        usub_var = -1
        reshape_var = mean.reshape(1, usub_var, 1, 1)
        sub_var_3 = x - reshape_var
        pow_var = sub_var_3 ** 2
        var = pow_var.mean(axis=tuple_var_1)
        subscript_var = x.shape[3]
        subscript_var_2 = x.shape[2]
        subscript_var_1 = x.shape[0]
        mult_var_4 = subscript_var_1 * subscript_var_2
        count = mult_var_4 * subscript_var
        sub_var_2 = count - 1
        max_var = max(sub_var_2, 1)
        div_var = count / max_var
        stop_gradient_var_1 = stop_gradient_opt(var)
        unbiased = stop_gradient_var_1 * div_var
        weight = self.norm1.momentum
        stop_gradient_var = stop_gradient_opt(mean)
        mult_var_3 = stop_gradient_var * weight
        sub_var_1 = 1 - weight
        mult_var_2 = self.norm1.moving_mean * sub_var_1
        add_var_1 = mult_var_2 + mult_var_3
        ops_1.assign(self.norm1.moving_mean, add_var_1)
        mult_var_1 = unbiased * weight
        sub_var = 1 - weight
        mult_var = self.norm1.moving_variance * sub_var
        add_var = mult_var + mult_var_1
        ops_1.assign(self.norm1.moving_variance, add_var)
        tuple_var = (mean, var)
        return tuple_var

    def construct(self, x):
        bottleneck_var = self.bottleneck(x)
        norm2_var = self.norm2(bottleneck_var)
        relu2_var = self.relu2(norm2_var)
        out = self.conv2(relu2_var)
        dropout_var = self.dropout(out)
        return dropout_var
#
sys.path.insert(0, '/work/main/mindcv/models')

class _DenseBlockOpt(_DenseBlock, nn.Cell):

    def __init__(self, obj):
        nn.Cell.__init__(self)
        for key, value in obj.__dict__.items():
            setattr(self, key, value)
        self.cell_list[0] = _DenseLayerOpt(self.cell_list[0])
        self.cell_list[1] = _DenseLayerOpt_1(self.cell_list[1])

    def construct(self, x):
        self_cell_list = self.cell_list
        for layer in self_cell_list:
            layer_var = layer(x)
            tuple_var = (x, layer_var)
            x = self.concat(tuple_var)
        return x
#
sys.path.insert(0, '/work/venv/lib/python3.11/site-packages/mindspore/nn/layer')

class ReLUOpt(ReLU, Cell):

    def __init__(self, obj):
        Cell.__init__(self)
        for key, value in obj.__dict__.items():
            setattr(self, key, value)

    def construct(self, input):
        input = amp_cast(input, mindspore.float16)
        relu_var = self.relu(input)
        relu_var = amp_cast(relu_var, mindspore.float32)
        return relu_var
#
sys.path.insert(0, '/work/venv/lib/python3.11/site-packages/mindspore/nn/layer')
from mindspore.ops.primitive import _primexpr
from mindspore.nn.layer.normalization import BatchNorm2d

class BatchNorm2dOpt(BatchNorm2d, _BatchNormOpt):

    def __init__(self, obj):
        _BatchNormOpt.__init__(self)
        for key, value in obj.__dict__.items():
            setattr(self, key, value)
        self._check_input_dim = obj.__class__._check_input_dim

    @staticmethod
    @_primexpr
    def _check_input_dim(shape, cls_name):
        dim = len(shape)
        _check_dim(dim, 4, cls_name)
#
sys.path.insert(0, '/work/venv/lib/python3.11/site-packages/mindspore/nn/layer')

class Conv2dOpt(Conv2d, _ConvOpt):

    def __init__(self, obj):
        _ConvOpt.__init__(self)
        for key, value in obj.__dict__.items():
            setattr(self, key, value)

    def construct(self, x):
        x = amp_cast(x, mindspore.float16)
        weight_var = amp_cast(self.weight, mindspore.float16)
        output = self.conv2d(x, weight_var)
        output = amp_cast(output, mindspore.float32)
        if self.has_bias:
            output_var = amp_cast(output, mindspore.float16)
            bias_var = amp_cast(self.bias, mindspore.float16)
            output = self.bias_add(output_var, bias_var)
            output = amp_cast(output, mindspore.float32)
        return output
#
sys.path.insert(0, '/work/main/mindcv/models')
from typing import Tuple
from mindspore.common.initializer import Zero
from mindcv.models.densenet import DenseNet

class DenseNetOpt(DenseNet, nn.Cell):

    def __init__(self, obj):
        nn.Cell.__init__(self)
        for key, value in obj.__dict__.items():
            setattr(self, key, value)
        self.features[0] = Conv2dOpt(self.features[0])
        self.features[1] = BatchNorm2dOpt(self.features[1])
        self.features[2] = ReLUOpt(self.features[2])
        self.features[3][0] = PadOpt(self.features[3][0])
        self.features[3][1] = MaxPool2dOpt(self.features[3][1])
        self.features[4] = _DenseBlockOpt(self.features[4])
        self.features[5] = _TransitionOpt(self.features[5])
        self.features[6] = _DenseBlockOpt_1(self.features[6])
        self.features[7] = BatchNorm2dOpt(self.features[7])
        self.features[8] = ReLUOpt_10(self.features[8])

    def _make_classifier(self, num_classes) -> nn.Cell:
        if num_classes <= 0:
            return nn.Identity()
        return nn.Dense(self.num_features, num_classes, bias_init=Zero())

    def get_classifier(self) -> nn.Cell:
        return self.classifier

    def reset_classifier(self, num_classes) -> None:
        """Replace the head for `num_classes` outputs (0 returns pooled features)."""
        self.num_classes = num_classes
        self.classifier = self._make_classifier(num_classes)
        self.compile_cache.clear()

    def forward_features(self, x):
        features_var = self.features(x)
        return features_var

    def forward_head(self, x, pre_logits=False):
        tuple_var = (2, 3)
        x = x.mean(axis=tuple_var)
        ifexp_var = x if pre_logits else self.classifier(x)
        return ifexp_var

    def forward_intermediates(self, x) -> Tuple:
        outs = ()
        enumerate_var = enumerate(self.features)
        for i, cell in enumerate_var:
            x = cell(x)
            compare_var = i in self._selected_ends
            if compare_var:
                outs += (x,)
        return outs

    def construct(self, x):
        if self.features_only:
            forward_intermediates_var = self.forward_intermediates(x)
            return forward_intermediates_var
        forward_features_var = self.forward_features(x)
        forward_head_var = self.forward_head(forward_features_var)
        return forward_head_var
#