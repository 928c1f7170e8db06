"""Deep CTR models on shared field embeddings: Wide & Deep (Cheng et al. 2016), DeepFM (Guo et al.
2017) and DCN (Wang et al. 2017; v2: Wang et al. 2021).

Each maps ``(feature_ids [B, F], feature_values [B, F]) -> click logit [B, 1]`` (task ``ctr``).
The deep part sees the concatenated field embeddings ``x0 = [v_1 x_1, ..., v_F x_F]`` [B, F k].
"""
from __future__ import annotations

import keras
from keras import ops

from kerasdl.layers.feature_interaction import CrossLayer, FieldEmbedding, FMInteraction
from kerasdl.models.base import FunctionalModel, register_model
from kerasdl.models.recommender.common import ML100K_FIELDS, ML100K_VOCAB, SMALL, field_inputs, mlp
from kerasdl.models.recommender.factorization import linear_term

_SMALL_DEEP = {**SMALL, "hidden_units": (16,)}


def _embedded(vocab_size, num_fields, embedding_dim):
    ids, values = field_inputs(num_fields)
    scaled = FieldEmbedding(vocab_size, embedding_dim, name="embeddings")([ids, values])
    return ids, values, scaled, ops.reshape(scaled, (-1, num_fields * embedding_dim))


@register_model("wide_deep", tags=("recommender", "ctr"), task="ctr", small=_SMALL_DEEP,
                deployable=True)
class WideAndDeep(FunctionalModel):
    """logit = wide (a linear model on the sparse features) + deep (an MLP on the embeddings).
    The paper's wide part also holds hand-made cross-product features; here the fields carry
    them if the featurizer adds them."""

    @staticmethod
    def build_graph(vocab_size=ML100K_VOCAB, num_fields=ML100K_FIELDS, embedding_dim=16,
                    hidden_units=(128, 64), dropout=0.0, global_bias=0.0):
        ids, values, _, x0 = _embedded(vocab_size, num_fields, embedding_dim)
        deep = keras.layers.Dense(1, name="deep_logit")(mlp(x0, hidden_units, dropout, "deep"))
        return [ids, values], linear_term(ids, values, vocab_size, global_bias) + deep


@register_model("deepfm", tags=("recommender", "ctr"), task="ctr", small=_SMALL_DEEP,
                deployable=True)
class DeepFM(FunctionalModel):
    """logit = linear + FM pairwise + MLP, the FM and the MLP sharing one embedding table."""

    @staticmethod
    def build_graph(vocab_size=ML100K_VOCAB, num_fields=ML100K_FIELDS, embedding_dim=16,
                    hidden_units=(128, 64), dropout=0.0, global_bias=0.0):
        ids, values, scaled, x0 = _embedded(vocab_size, num_fields, embedding_dim)
        deep = keras.layers.Dense(1, name="deep_logit")(mlp(x0, hidden_units, dropout, "deep"))
        fm = FMInteraction(name="pairwise")(scaled)
        return [ids, values], linear_term(ids, values, vocab_size, global_bias) + fm + deep


def _cross_network(x0, num_cross_layers, version, projection_dim):
    x = x0
    for layer in range(num_cross_layers):
        if version == 1:
            x = CrossLayer(name=f"cross_{layer}")([x0, x])
        else:
            import keras_rs

            x = keras_rs.layers.FeatureCross(projection_dim=projection_dim, name=f"cross_{layer}")(x0, x)
    return x


@register_model("dcn", tags=("recommender", "ctr"), task="ctr",
                small={**_SMALL_DEEP, "num_cross_layers": 2}, deployable=True)
@register_model("dcn_v2", tags=("recommender", "ctr"), task="ctr", defaults={"version": 2},
                small={**_SMALL_DEEP, "num_cross_layers": 2}, deployable=True)
class DeepCrossNetwork(FunctionalModel):
    """DCN: a cross network (``version`` 1: x0 x_lᵀ w + b + x_l, :class:`CrossLayer`; 2:
    x0 ⊙ (W x_l + b) + x_l, ``keras_rs.layers.FeatureCross``, low-rank with ``projection_dim``)
    in parallel with an MLP on x0; their outputs concatenated feed the logit."""

    @staticmethod
    def build_graph(vocab_size=ML100K_VOCAB, num_fields=ML100K_FIELDS, embedding_dim=16,
                    num_cross_layers=3, hidden_units=(128, 64), dropout=0.0, version=1,
                    projection_dim=None, global_bias=0.0):
        if version not in (1, 2):
            raise ValueError(f"version must be 1 (DCN) or 2 (DCN-v2), got {version!r}")
        ids, values, _, x0 = _embedded(vocab_size, num_fields, embedding_dim)
        cross = _cross_network(x0, num_cross_layers, version, projection_dim)
        deep = mlp(x0, hidden_units, dropout, "deep")
        head = keras.layers.Dense(1, bias_initializer=keras.initializers.Constant(global_bias),
                                  name="logit")
        return [ids, values], head(ops.concatenate([cross, deep], axis=-1))
