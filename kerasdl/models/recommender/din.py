"""Deep Interest Network (Zhou et al. 2018): the user's behaviour sequence is pooled with weights
that depend on the candidate item (:class:`kerasdl.layers.feature_interaction.AttentionPooling`).

``(feature_ids [B, F], feature_values [B, F], history [B, T], target_item [B]) -> logit [B, 1]``
(task ``ctr``); history and target are item ids in ``[0, num_items)`` with 0 = padding
(``MovieLensFeaturizer.item_ids``), one item embedding table shared by both.
"""
from __future__ import annotations

import keras
from keras import ops

from kerasdl.layers.feature_interaction import AttentionPooling, FieldEmbedding
from kerasdl.models.base import FunctionalModel, register_model
from kerasdl.models.recommender.common import ML100K_FIELDS, ML100K_VOCAB, SMALL, field_inputs, mlp


@register_model("din", tags=("recommender", "ctr"), task="ctr",
                small={**SMALL, "num_items": 20, "history_length": 6, "hidden_units": (16,),
                       "attention_units": (8,)}, deployable=True)
class DeepInterestNetwork(FunctionalModel):
    """MLP over [field embeddings, attention-pooled history, target item embedding]."""

    @staticmethod
    def build_graph(vocab_size=ML100K_VOCAB, num_fields=ML100K_FIELDS, num_items=1619,
                    history_length=50, embedding_dim=16, item_embedding_dim=32,
                    attention_units=(36,), hidden_units=(128, 64), dropout=0.0, global_bias=0.0):
        if history_length < 1 or num_items < 2:
            raise ValueError(f"need history_length >= 1 and num_items >= 2 (0 is padding), got "
                             f"{history_length}, {num_items}")
        ids, values = field_inputs(num_fields)
        history = keras.Input((history_length,), dtype="int32", name="history")
        target = keras.Input((), dtype="int32", name="target_item")
        fields = ops.reshape(FieldEmbedding(vocab_size, embedding_dim, name="embeddings")([ids, values]),
                             (-1, num_fields * embedding_dim))
        items = keras.layers.Embedding(num_items, item_embedding_dim, name="item_embeddings",
                                       embeddings_initializer=keras.initializers.RandomNormal(stddev=0.01))
        mask = ops.cast(ops.not_equal(history, 0), "float32")
        target_vector = items(target)
        interest = AttentionPooling(attention_units, name="attention")([target_vector, items(history), mask])
        x = mlp(ops.concatenate([fields, interest, target_vector], axis=-1), hidden_units, dropout, "deep")
        head = keras.layers.Dense(1, bias_initializer=keras.initializers.Constant(global_bias),
                                  name="logit")
        return [ids, values, history, target], head(x)
