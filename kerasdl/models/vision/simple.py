"""Small image classifiers for 8-32 px inputs: the spine's reference models."""
from __future__ import annotations

import keras

from kerasdl.layers import ConvBNAct
from kerasdl.models.base import FunctionalModel, register_model


@register_model("simple_cnn", tags=("vision", "classifier"), task="classification",
                small={"filters": (8, 16), "convs_per_stage": 2, "dense_units": 16}, deployable=True)
class SimpleCNN(FunctionalModel):
    """Stages of ``convs_per_stage`` ConvBNAct + max-pool, then a dense head with dropout
    (fp32 logits).

    With the defaults it reaches ~93% on Fashion-MNIST (pipelines/fashion_mnist_classifier.py).
    """

    @staticmethod
    def build_graph(num_classes=10, input_shape=(28, 28, 1), filters=(32, 64, 128), convs_per_stage=1,
                    dense_units=128, dropout=0.3):
        inputs = keras.Input(tuple(input_shape), name="image")
        x = inputs
        for stage, width in enumerate(filters):
            for i in range(convs_per_stage):
                x = ConvBNAct(width, name=f"stage{stage}_conv{i}")(x)
            x = keras.layers.MaxPooling2D(name=f"stage{stage}_pool")(x)
        x = keras.layers.Flatten(name="flatten")(x)
        x = keras.layers.Dropout(dropout, name="flatten_dropout")(x)
        x = keras.layers.Dense(dense_units, activation="relu", name="fc")(x)
        x = keras.layers.Dropout(dropout, name="fc_dropout")(x)
        outputs = keras.layers.Dense(num_classes, dtype="float32", name="logits")(x)
        return inputs, outputs


@register_model("mlp", tags=("classifier",), task="classification",
                small={"hidden_units": (16,)}, deployable=True)
class MLP(FunctionalModel):
    """Flatten -> Dense/ReLU stack -> float32 logits (the curriculum's multilayer perceptron)."""

    @staticmethod
    def build_graph(num_classes=10, input_shape=(28, 28, 1), hidden_units=(256, 128), dropout=0.0):
        inputs = keras.Input(tuple(input_shape), name="image")
        x = keras.layers.Flatten(name="flatten")(inputs)
        for i, units in enumerate(hidden_units):
            x = keras.layers.Dense(units, activation="relu", name=f"dense{i}")(x)
            if dropout:
                x = keras.layers.Dropout(dropout, name=f"dropout{i}")(x)
        outputs = keras.layers.Dense(num_classes, dtype="float32", name="logits")(x)
        return inputs, outputs
