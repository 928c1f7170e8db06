"""TensorFlow's own float-op count (``tf.compat.v1.profiler``) of a traced function, by op type.

The profiler walks the graph of a concrete ``tf.function`` and sums the statistics registered per
op type (``tensorflow/python/profiler/internal/flops_registry.py``). Its conventions differ from
``kerasdl.analysis.flops``: Conv2D/MatMul/DepthwiseConv2dNative count 2 per multiply-accumulate
(no -1 for a missing bias) and BiasAdd 1 per element separately; Relu, Relu6, Sigmoid and
FusedBatchNorm have no registered count (0); Keras' inference batch norm appears as Mul/Sub/AddV2
ops plus a per-channel Rsqrt; Mean counts input + output sizes; Softmax 5 per element.
"""
from __future__ import annotations

import collections
from dataclasses import dataclass, field

MAC_OPS = ("Conv2D", "Conv3D", "MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3",
           "DepthwiseConv2dNative", "Conv2DBackpropInput")
CALL_OPS = ("PartitionedCall", "StatefulPartitionedCall")


@dataclass(frozen=True)
class ProfiledFlops:
    """The profiler's total and its split by op type (``{"Conv2D": ..., "BiasAdd": ...}``)."""

    total: int
    by_op_type: dict = field(default_factory=dict)

    @property
    def macs(self) -> int:
        """Half the float ops of multiply-accumulate ops (conv, matmul): their MAC count."""
        return sum(self.by_op_type.get(op, 0) for op in MAC_OPS) // 2


def profile_function(function, input_specs) -> ProfiledFlops:
    """Float ops of ``function(*inputs)`` for ``input_specs`` (``tf.TensorSpec``, static shapes).

    The profiler does not enter function calls (``PartitionedCall``: Keras runs grouped convs as an
    XLA-compiled inner function), so each called function is rebuilt as a graph, its variable
    inputs made plain tensors of the variables' shapes, and profiled in turn.
    """
    import tensorflow as tf

    graph = tf.function(function).get_concrete_function(*input_specs).graph
    by_type = _count(graph, library=None)
    return ProfiledFlops(sum(by_type.values()), dict(by_type))


def _count(graph, library) -> collections.Counter:
    import tensorflow as tf

    builder = tf.compat.v1.profiler.ProfileOptionBuilder
    options = builder(builder.float_operation()).with_empty_output().build()
    profile = tf.compat.v1.profiler.profile(graph=graph, run_meta=tf.compat.v1.RunMetadata(),
                                            cmd="scope", options=options)
    by_type = collections.Counter()
    pending = list(profile.children)
    while pending:
        node = pending.pop()
        pending.extend(node.children)
        if node.float_ops:
            by_type[graph.get_operation_by_name(node.name).type] += node.float_ops
    for op in graph.get_operations():
        if op.type in CALL_OPS:
            if library is None:
                library = {f.signature.name: f for f in graph.as_graph_def().library.function}
            by_type += _count(_called_graph(op, library), library)
    return by_type


def _called_graph(op, library):
    """The graph of the function ``op`` calls, with resource inputs replaced by value inputs."""
    import tensorflow as tf
    from tensorflow.python.framework.function_def_to_graph import function_def_to_graph_def
    from tensorflow.python.ops import handle_data_util

    fdef = library[op.get_attr("f").name]
    graph_def, _ = function_def_to_graph_def(fdef, input_shapes=[t.shape for t in op.inputs])
    placeholders = {node.name: node for node in graph_def.node if node.op == "Placeholder"}
    for arg, tensor in zip(fdef.signature.input_arg, op.inputs):
        handle = handle_data_util.get_resource_handle_data(tensor) \
            if tensor.dtype == tf.resource else None
        if handle is None or not handle.shape_and_type or arg.name not in placeholders:
            continue
        variable = handle.shape_and_type[0]
        placeholders[arg.name].attr["dtype"].type = variable.dtype
        placeholders[arg.name].attr["shape"].shape.CopyFrom(variable.shape)
        for node in graph_def.node:
            if node.op == "ReadVariableOp" and node.input[0].split(":")[0] == arg.name:
                node.op = "Identity"
                node.attr["T"].type = node.attr["dtype"].type
                del node.attr["dtype"]
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
    return graph


def profile_model(model, batch_size: int = 1) -> ProfiledFlops:
    """Float ops of ``model(inputs, training=False)`` at ``batch_size`` (inference)."""
    import tensorflow as tf

    specs = [tf.TensorSpec((batch_size, *t.shape[1:]), t.dtype) for t in model.inputs]
    if len(specs) == 1:
        return profile_function(lambda x: model(x, training=False), specs)
    return profile_function(lambda *xs: model(list(xs), training=False), specs)

