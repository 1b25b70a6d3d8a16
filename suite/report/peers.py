"""The peers timed against the kernels and the model: PyTorch and ONNX Runtime, if installed."""
from __future__ import annotations

import importlib
from typing import Callable

import numpy as np

from suite.model import positional_encoding

__all__ = ["torch_or_none", "torch_calls", "torch_text_cnn", "onnx_text_cnn",
           "onnxruntime_session"]


def torch_or_none():
    """The ``torch`` module, or None when PyTorch is not installed."""
    try:
        return importlib.import_module("torch")
    except ImportError:
        return None


def torch_calls(torch, x: np.ndarray, banks) -> Callable[[], list]:
    """A function making a workload's calls in PyTorch: one per bank of ``banks``.

    ``conv1d`` over (batch, d, n) for full-width banks, ``conv2d`` otherwise.

    Inputs are converted to PyTorch's layout before timing, as a model keeps them.
    """
    f = torch.nn.functional
    calls = []
    for weights, bias in banks:
        tb = torch.from_numpy(bias)
        if weights.shape[2] == x.shape[2]:
            tx = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 2, 1)))
            tw = torch.from_numpy(np.ascontiguousarray(weights.transpose(0, 2, 1)))
            calls.append((f.conv1d, tx, tw, tb))
        else:
            calls.append((f.conv2d, torch.from_numpy(x[:, None]),
                          torch.from_numpy(np.ascontiguousarray(weights[:, None])), tb))

    def run():
        with torch.no_grad():
            return [conv(tx, tw, tb) for conv, tx, tw, tb in calls]
    return run




def torch_text_cnn(torch, model):
    """The same network as ``model`` in PyTorch eager, as a ``torch.nn.Module`` would run it.

    ``Embedding`` per table, the positional encoding added, one ``Conv1d`` per bank over
    ``(batch, D, n)``, the activation, ``amax`` over time and a ``Linear`` layer.  Returns
    ``run(tokens)`` taking a ``(batch, n, k)`` int64 tensor; the padding of a batch is
    computed like any other position.
    """
    nn = torch.nn
    dtype = getattr(torch, model.dtype.name)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.tables = nn.ModuleList(
                nn.Embedding.from_pretrained(torch.from_numpy(t.copy())) for t in model.embeddings)
            self.convs = nn.ModuleList()
            for w, b in model.filters:
                conv = nn.Conv1d(model.dim, w.shape[0], w.shape[1], dtype=dtype)
                conv.weight.data = torch.from_numpy(w.transpose(0, 2, 1).copy())
                conv.bias.data = torch.from_numpy(b.copy())
                self.convs.append(conv)
            self.dense = nn.Linear(model.n_features, model.n_classes, dtype=dtype)
            self.dense.weight.data = torch.from_numpy(model.classifier[0].copy())
            self.dense.bias.data = torch.from_numpy(model.classifier[1].copy())
            self.act = {"identity": nn.Identity(), "relu": nn.ReLU(), "selu": nn.SELU(),
                        "tanh": nn.Tanh()}[model.activation]
            self.columns = list(model.columns)
            self.pe = torch.from_numpy(positional_encoding(4096, model.dim, model.dtype)
                                       if model.positional
                                       else np.zeros((4096, model.dim), model.dtype))

        def forward(self, tokens):
            x = torch.cat([table(tokens[..., col]) for table, col in
                           zip(self.tables, self.columns)], dim=-1)
            x = (x + self.pe[:x.shape[1]]).transpose(1, 2)
            pooled = [self.act(conv(x)).amax(dim=-1) for conv in self.convs]
            return self.dense(torch.cat(pooled, dim=-1))

    net = Net().eval()

    def run(tokens):
        with torch.inference_mode():
            return net(tokens)
    return run


def onnx_text_cnn(model, path):
    """The same network as ``model`` written to ``path`` as an ONNX graph (float32 only).

    Built node by node with ``onnx.helper`` from the model's own weights: ``Gather`` per
    table, ``Concat``, the positional encoding added, one ``Conv`` per bank over
    ``(batch, D, n)``, the activation, ``ReduceMax`` over time, ``Gemm``.  Input
    ``tokens``: ``(batch, n, k)`` int64; output ``logits``.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    if model.dtype != np.float32:
        raise ValueError("ONNX Runtime has no float64 convolution; the model must be float32")
    nodes, inits = [], []

    def const(name, array):
        inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    rows = []
    for i, (table, col) in enumerate(zip(model.embeddings, model.columns)):
        nodes.append(helper.make_node("Gather", ["tokens", const(f"col{i}", np.int64(col))],
                                      [f"ids{i}"], axis=2))
        nodes.append(helper.make_node("Gather", [const(f"table{i}", table), f"ids{i}"],
                                      [f"rows{i}"], axis=0))
        rows.append(f"rows{i}")
    nodes.append(helper.make_node("Concat", rows, ["x"], axis=-1))
    last = "x"
    if model.positional:
        nodes.append(helper.make_node("Shape", ["tokens"], ["shape"], start=1, end=2))
        pe = positional_encoding(4096, model.dim, model.dtype)
        nodes.append(helper.make_node("Slice", [const("pe", pe),
                                                const("zero", np.array([0], np.int64)),
                                                "shape"], ["pe_n"]))
        nodes.append(helper.make_node("Add", ["x", "pe_n"], ["x_pe"]))
        last = "x_pe"
    nodes.append(helper.make_node("Transpose", [last], ["xt"], perm=[0, 2, 1]))
    pooled = []
    for j, (w, b) in enumerate(model.filters):
        nodes.append(helper.make_node("Conv", ["xt", const(f"w{j}", w.transpose(0, 2, 1)),
                                               const(f"b{j}", b)], [f"conv{j}"]))
        act = {"identity": "Identity", "relu": "Relu", "selu": "Selu", "tanh": "Tanh"}
        nodes.append(helper.make_node(act[model.activation], [f"conv{j}"], [f"act{j}"]))
        nodes.append(helper.make_node("ReduceMax", [f"act{j}", const(f"axis{j}", np.array(
            [2], np.int64))], [f"pool{j}"], keepdims=0))
        pooled.append(f"pool{j}")
    nodes.append(helper.make_node("Concat", pooled, ["features"], axis=-1))
    nodes.append(helper.make_node("Gemm", ["features", const("wc", model.classifier[0]),
                                           const("bc", model.classifier[1])], ["logits"],
                                  transB=1))
    graph = helper.make_graph(
        nodes, "text_cnn",
        [helper.make_tensor_value_info("tokens", TensorProto.INT64, ["batch", "n", "k"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", "classes"])],
        inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    onnx.checker.check_model(proto)
    onnx.save(proto, path)
    return path


def onnxruntime_session(path, threads: int = 1):
    """An ONNX Runtime session on ``threads`` intra-op threads (one inter-op thread)."""
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
