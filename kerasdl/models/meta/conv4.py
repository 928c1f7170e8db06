"""Conv-4, the few-shot embedding of Prototypical Networks (Snell et al., 2017; also Matching
Networks and MAML): four blocks of 3×3 conv (64 filters) → BatchNorm → ReLU → 2×2 max-pool, then
flatten. A 28×28 image (Omniglot's size, MNIST's) becomes a 64-d embedding (28→14→7→3→1)."""
from __future__ import annotations

import keras

from kerasdl.layers import ConvBNAct
from kerasdl.models.base import FunctionalModel, register_model


@register_model("conv4", tags=("meta", "embedding"), task="metric_embedding",
                small={"input_shape": (16, 16, 1), "filters": 8, "blocks": 2}, deployable=True)
class Conv4(FunctionalModel):
    """Image -> float32 embedding ``[B, filters·(H/2^blocks)·(W/2^blocks)]``; train it with
    :class:`kerasdl.meta.prototypical.PrototypicalTrainer` (episodes) or with
    ``compile(loss=PrototypicalLoss())`` (batches as their own support sets)."""

    @staticmethod
    def build_graph(input_shape=(28, 28, 1), filters=64, blocks=4):
        if int(blocks) < 1:
            raise ValueError(f"blocks must be >= 1, got {blocks}")
        inputs = keras.Input(tuple(input_shape), name="image")
        x = inputs
        for block in range(int(blocks)):
            x = ConvBNAct(filters, name=f"block{block}_conv")(x)
            x = keras.layers.MaxPooling2D(name=f"block{block}_pool")(x)
        outputs = keras.layers.Flatten(dtype="float32", name="embedding")(x)
        return inputs, outputs
