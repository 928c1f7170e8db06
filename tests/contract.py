"""The shared model contract: what every registered model must satisfy.

Adding a model = registering it with ``kerasdl.models.base.register_model``; the parametrised tests
in test_model_contract.py then cover it. Per-task inputs and losses live in ``TASKS``.
"""
from __future__ import annotations

import keras
import numpy as np

import kerasdl
from kerasdl.losses import MaxMarginRankingLoss
from kerasdl.registry import MODELS


def classification_batch(model, rng, batch=16):
    shape = (batch, *model.inputs[0].shape[1:])
    num_classes = model.outputs[0].shape[-1]
    return rng.random(shape, dtype=np.float32), rng.integers(0, num_classes, batch).astype("int32")


def _vocab(model) -> int:
    """Smallest token vocabulary among the model's inputs (token ids are drawn below it)."""
    config = model.get_config()
    sizes = [config[k] for k in ("vocab_size", "source_vocab_size", "target_vocab_size") if k in config]
    if not sizes:
        raise KeyError(f"{type(model).__name__} takes token ids but has no vocab_size hyperparameter")
    return min(sizes)


def token_inputs(model, rng, batch=16):
    """Integer token ids in [1, vocab) for every model input (0 is the padding id)."""
    xs = [rng.integers(1, _vocab(model), (batch, *i.shape[1:])).astype("int32") for i in model.inputs]
    return xs[0] if len(xs) == 1 else tuple(xs)


def text_classification_batch(model, rng, batch=16):
    """Token ids [B, T] -> class logits [B, num_classes]."""
    return token_inputs(model, rng, batch), rng.integers(0, model.outputs[0].shape[-1], batch).astype("int32")


def token_prediction_batch(model, rng, batch=16):
    """Token ids (one input or (source, target_in)) -> per-position logits [B, T, V]; y = ids [B, T]."""
    out = model.outputs[0].shape
    return token_inputs(model, rng, batch), rng.integers(1, out[-1], (batch, out[1])).astype("int32")


def candidate_batch(model, rng, batch=16):
    """word2vec form: (word(s), candidates [B, 1+K]) -> logits [B, 1+K]; the first candidate is the
    true one (label 1), the rest are negatives (label 0)."""
    y = np.zeros((batch, model.outputs[0].shape[-1]), "float32")
    y[:, 0] = 1.0
    return token_inputs(model, rng, batch), y


def random_inputs(model, rng, batch=16):
    """One array per model input: class labels below the ``num_classes`` hyperparameter for
    integer inputs, uniform floats in [0, 1) (images, noise) for the rest."""
    xs = []
    for tensor in model.inputs:
        shape = (batch, *tensor.shape[1:])
        if "int" in str(tensor.dtype):
            xs.append(rng.integers(0, model.get_config()["num_classes"], shape).astype("int32"))
        else:
            xs.append(rng.random(shape, dtype=np.float32))
    return xs[0] if len(xs) == 1 else tuple(xs)


def generator_batch(model, rng, batch=16):
    """Noise (+ class labels) -> images in [-1, 1]; y = random images in [-1, 1]."""
    x = random_inputs(model, rng, batch)
    return x, rng.uniform(-1, 1, (batch, *model.outputs[0].shape[1:])).astype("float32")


def discriminator_batch(model, rng, batch=16):
    """Images (+ class labels) -> one real/fake logit (or critic score) [B, 1]; y = random 0/1."""
    x = random_inputs(model, rng, batch)
    return x, rng.integers(0, 2, (batch, *model.outputs[0].shape[1:])).astype("float32")


def structured_images(rng, shape, batch=16, factors=3):
    """Images in (0, 1) with a few degrees of freedom, like real ones (unlike uniform noise, which
    no bottleneck can reconstruct): sigmoid of a random mix of ``factors`` smooth waves."""
    h, w, c = shape
    yy, xx = np.meshgrid(np.linspace(0, np.pi, h), np.linspace(0, np.pi, w), indexing="ij")
    waves = np.stack([np.sin((k + 1) * yy) * np.cos((k + 1) * xx) for k in range(factors)])
    mix = np.tensordot(rng.normal(size=(batch, factors)), waves, axes=1)  # [B, H, W]
    return np.repeat((1 / (1 + np.exp(-3 * mix)))[..., None], c, -1).astype("float32")


def reconstruction_batch(model, rng, batch=16):
    """Structured images in (0, 1) (+ class labels) -> per-pixel Bernoulli logits of the same
    images; y = the images (autoencoders, VAEs, RBMs' mean-field reconstruction, PixelCNN/MADE
    likelihoods)."""
    x = random_inputs(model, rng, batch)
    images = structured_images(rng, model.inputs[0].shape[1:], batch)
    return ((images, *x[1:]) if isinstance(x, tuple) else images), images


def q_value_batch(model, rng, batch=16):
    """Observations [B, D] -> one Q value per action [B, A]; y = Q targets, a fixed random linear
    function of the observations (learnable, as bootstrapped targets are)."""
    x = random_inputs(model, rng, batch)
    weights = rng.normal(size=(x.shape[-1], model.outputs[0].shape[-1]))
    return x, (x @ weights).astype("float32")


def random_graph_batch(model, rng, batch=16, nodes=10, edges=40, vary_size=False):
    """``batch`` random undirected graphs of up to ``nodes`` nodes with normal node features sized
    for ``model.inputs[0]``, padded (kerasdl.graph.pad_graphs) to ``edges`` rows; also returns the
    mean of each node's in-neighbours' features (what the learnable labels below depend on)."""
    from kerasdl.graph import pad_graphs, to_undirected

    features, graphs = model.inputs[0].shape[-1], []
    for _ in range(batch):
        n = int(rng.integers(nodes // 2, nodes + 1)) if vary_size else nodes
        pairs = to_undirected(rng.integers(0, n, (edges // 2, 2)), n)[:edges]
        graphs.append((rng.normal(size=(n, features)).astype("float32"), pairs))
    padded = pad_graphs(graphs, num_nodes=nodes, num_edges=edges)
    neighbour_mean = np.zeros_like(padded.node_features)
    for b, (x, pairs) in enumerate(graphs):
        np.add.at(neighbour_mean[b], pairs[:, 1], x[pairs[:, 0]])
        neighbour_mean[b, :len(x)] /= np.maximum(np.bincount(pairs[:, 1], minlength=len(x)), 1)[:, None]
    return padded, neighbour_mean


def node_classification_batch(model, rng, batch=16):
    """(node_features [B, N, F], edges [B, E, 2]) -> node logits [B, N, C]; y [B, N] is the argmax
    of a fixed random linear map of each node's features plus its neighbours' mean (learnable)."""
    padded, neighbour_mean = random_graph_batch(model, rng, batch)
    weights = np.random.default_rng(0).normal(size=(padded.node_features.shape[-1],
                                                    model.outputs[0].shape[-1]))
    y = np.argmax((padded.node_features + neighbour_mean) @ weights, -1).astype("int32")
    return padded.inputs(), y


def graph_classification_batch(model, rng, batch=16):
    """(node_features, edges, node_mask) of graphs of 5-10 nodes -> graph logits [B, C]; y [B] is
    the quantile bin of the graph's summed first feature plus its number of edges (learnable)."""
    padded, _ = random_graph_batch(model, rng, batch, vary_size=True)
    score = (padded.node_features[..., 0] * padded.node_mask).sum(1) + (padded.edges[..., 0] >= 0).sum(1) / 4
    classes = model.outputs[0].shape[-1]
    y = np.searchsorted(np.quantile(score, np.linspace(0, 1, classes + 1)[1:-1]), score)
    return padded.inputs(with_mask=True), y.astype("int32")


def link_prediction_batch(model, rng, batch=16):
    """Knowledge-graph tail queries (entity, relation in [0, 2R): reciprocals included) -> logits
    over every entity; y = the true tail id."""
    config = model.get_config()
    queries = np.stack([rng.integers(0, config["num_entities"], batch),
                        rng.integers(0, 2 * config["num_relations"], batch)], 1).astype("int32")
    return queries, rng.integers(0, config["num_entities"], batch).astype("int32")


def ranking_batch(model, rng, batch=16):
    """A user id then item ids (the first a positive) -> scores [B, C]; y = 1 for the positive,
    0 for the others."""
    config = model.get_config()
    width = model.inputs[0].shape[1]
    queries = np.concatenate([rng.integers(0, config["num_users"], (batch, 1)),
                              rng.integers(0, config["num_items"], (batch, width - 1))], 1)
    y = np.zeros((batch, width - 1), "float32")
    y[:, 0] = 1.0
    return queries.astype("int32"), y


def metric_embedding_batch(model, rng, batch=16, classes=4):
    """Images in [0, 1) -> embeddings [B, D]; y = int labels of ``classes`` classes (the batch is its
    own support set: kerasdl.meta.prototypical.PrototypicalLoss)."""
    shape = (batch, *model.inputs[0].shape[1:])
    return rng.random(shape, dtype=np.float32), rng.integers(0, classes, batch).astype("int32")


def recommender_inputs(model, rng, batch=16):
    """One array per input, by its name: ids below the model's vocabularies (``user``/``item``
    below num_users/num_items; ``*_ids`` below vocab_size; ``history`` with 0 padding and
    ``target_item`` below num_items), values in [0, 1) with the first column 1."""
    config = model.get_config()
    xs = []
    for tensor in model.inputs:
        name, shape = tensor.name, (batch, *tensor.shape[1:])
        if name in ("user", "item"):
            xs.append(rng.integers(0, config[f"num_{name}s"], shape))
        elif name.endswith("_ids"):
            xs.append(rng.integers(0, config["vocab_size"], shape))
        elif name in ("history", "target_item"):
            xs.append(rng.integers(int(name == "target_item"), config["num_items"], shape))
        else:
            values = rng.random(shape)
            values[:, 0] = 1.0
            xs.append(values)
    return tuple(x.astype("int32" if "int" in str(t.dtype) else "float32")
                 for x, t in zip(xs, model.inputs))


def rating_batch(model, rng, batch=16):
    """(user, item) -> rating [B, 1]; y = ratings 1..5."""
    return recommender_inputs(model, rng, batch), rng.integers(1, 6, (batch, 1)).astype("float32")


def ctr_batch(model, rng, batch=16):
    """Field ids/values (+ history, target item) -> click logit [B, 1]; y = random 0/1."""
    return recommender_inputs(model, rng, batch), rng.integers(0, 2, (batch, 1)).astype("float32")


def retrieval_batch(model, rng, batch=16):
    """(user ids/values, item ids/values) -> in-batch logits [B, B]; y = each item's log sampling
    probability (the logQ correction of InBatchSoftmaxLoss), here uniform over 100 items."""
    return recommender_inputs(model, rng, batch), np.full(batch, -np.log(100.0), "float32")


def _in_batch_softmax():
    from kerasdl.models.recommender.two_tower import InBatchSoftmaxLoss

    return InBatchSoftmaxLoss()


def ctc_batch(model, rng, batch=16):
    """Text-line images [B, H, W, C] (uniform in [0, 1)) or waveforms [B, samples] (Gaussian, std
    0.1) -> CTC logits [B, T, V + 1] (blank 0); y = ids in [1, V] of 1..T/4 tokens, right-padded
    with 0 (keras.losses.CTC's layout)."""
    shape = (batch, *model.inputs[0].shape[1:])
    x = rng.normal(0.0, 0.1, shape) if len(shape) == 2 else rng.random(shape)
    steps, classes = model.outputs[0].shape[1:]
    lengths = rng.integers(1, max(2, steps // 4) + 1, batch)
    y = rng.integers(1, classes, (batch, max(lengths))) * (np.arange(max(lengths)) < lengths[:, None])
    return x.astype("float32"), y.astype("int32")


def captioning_batch(model, rng, batch=16):
    """(images [B, H, W, C], caption_in ids [B, T]) -> logits [B, T, V]; y = ids in [1, V)."""
    vocab, length = model.get_config()["vocab_size"], model.inputs[1].shape[1]
    images = rng.random((batch, *model.inputs[0].shape[1:]), dtype=np.float32)
    return (images, rng.integers(1, vocab, (batch, length)).astype("int32")), \
        rng.integers(1, vocab, (batch, length)).astype("int32")


def detection_batch(model, rng, batch=16):
    """Images -> per-anchor predictions [B, A, 5 + C]; y = the detector's own training targets
    (``model.batch_targets``) for 1-3 random boxes of random classes per image."""
    classes = model.outputs[0].shape[-1] - 5
    boxes, labels = [], []
    for _ in range(batch):
        n = int(rng.integers(1, 4))
        xy = rng.uniform(0, 0.5, (n, 2))
        boxes.append(np.concatenate([xy, xy + rng.uniform(0.2, 0.5, (n, 2))], 1).astype("float32"))
        labels.append(rng.integers(0, classes, n))
    images = rng.random((batch, *model.inputs[0].shape[1:]), dtype=np.float32)
    return images, model.batch_targets(boxes, labels)


def _detection_loss(kind):
    def make():
        from kerasdl.detection import losses

        return getattr(losses, kind)()
    return make


def _detection_loss_from(module, kind):
    def make():
        import importlib

        return getattr(importlib.import_module(f"kerasdl.detection.{module}"), kind)()
    return make


def two_stage_batch(model, rng, batch=16):
    """detection_batch for outputs wider than 5 + C (the packed two-stage layout)."""
    class Widths:  # what detection_batch reads: the output width 5 + C
        outputs = [keras.KerasTensor((None, 1, 5 + model.hyperparameters["num_classes"]))]
        inputs, batch_targets = model.inputs, model.batch_targets
    return detection_batch(Widths, rng, batch)


def keypoint_batch(model, rng, batch=16):
    """Structured images -> heatmap targets of the output's shape: a Gaussian bump per channel
    at a position fixed for the batch (learnable from any input), 0 elsewhere."""
    images = structured_images(rng, model.inputs[0].shape[1:], batch)
    shape = model.outputs[0].shape[1:]
    h, w = shape[-3:-1]
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    centres = rng.uniform(0, [h, w], (shape[-1], 2))
    bumps = np.exp(-((yy[..., None] - centres[:, 0]) ** 2 + (xx[..., None] - centres[:, 1]) ** 2) / 2)
    return images, np.broadcast_to(bumps, (batch, *shape)).astype("float32").copy()


def segmentation_batch(model, rng, batch=16):
    """Structured images -> per-pixel logits [B, H, W, C]; y [B, H, W] = the intensity band of each
    pixel's first channel (C equal bands: learnable per pixel, spatially coherent)."""
    classes = model.outputs[0].shape[-1]
    images = structured_images(rng, model.inputs[0].shape[1:], batch)
    return images, np.minimum((images[..., 0] * classes).astype("int32"), classes - 1)


def _prototypical():
    from kerasdl.meta.prototypical import PrototypicalLoss

    return PrototypicalLoss()


def _sparse_ce():
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


TASKS = {
    "classification": {"batch": classification_batch, "loss": _sparse_ce},
    # models taking int32 token ids; hyperparameters name their vocabularies (vocab_size, or
    # source_vocab_size/target_vocab_size) and their fixed lengths
    "text_classification": {"batch": text_classification_batch, "loss": _sparse_ce},
    "language_model": {"batch": token_prediction_batch, "loss": _sparse_ce},  # causal or masked LM
    "seq2seq": {"batch": token_prediction_batch, "loss": _sparse_ce},  # inputs (source, target_in)
    "word2vec": {"batch": candidate_batch,
                 "loss": lambda: keras.losses.BinaryCrossentropy(from_logits=True)},
    # generative networks: a GAN's two halves are registered and checked as separate models
    "generator": {"batch": generator_batch, "loss": keras.losses.MeanSquaredError},
    "discriminator": {"batch": discriminator_batch,
                      "loss": lambda: keras.losses.BinaryCrossentropy(from_logits=True)},
    "reconstruction": {"batch": reconstruction_batch,
                       "loss": lambda: keras.losses.BinaryCrossentropy(from_logits=True)},
    "q_values": {"batch": q_value_batch, "loss": keras.losses.Huber},  # DQN's regression of targets
    # graph models (kerasdl.layers.graph conventions): padded batches of small random graphs
    "node_classification": {"batch": node_classification_batch, "loss": _sparse_ce},
    "graph_classification": {"batch": graph_classification_batch, "loss": _sparse_ce},
    "link_prediction": {"batch": link_prediction_batch, "loss": _sparse_ce},
    "ranking": {"batch": ranking_batch, "loss": lambda: MaxMarginRankingLoss()},
    # few-shot embeddings (Conv-4): images -> embeddings, trained through class prototypes
    "metric_embedding": {"batch": metric_embedding_batch, "loss": _prototypical},
    # recommender / CTR models (kerasdl.models.recommender): named int id and float value inputs
    "rating": {"batch": rating_batch, "loss": keras.losses.MeanSquaredError},
    "ctr": {"batch": ctr_batch, "loss": lambda: keras.losses.BinaryCrossentropy(from_logits=True)},
    "retrieval": {"batch": retrieval_batch, "loss": _in_batch_softmax},  # in-batch negatives
    # text and speech recognition (CRNN, digits_ctc): per-column/frame logits, CTC (blank 0)
    "ctc": {"batch": ctc_batch, "loss": lambda: keras.losses.CTC()},
    # image captioning (Show, Attend and Tell): (images, caption_in) -> next-word logits
    "captioning": {"batch": captioning_batch, "loss": _sparse_ce},
    # anchor detectors (kerasdl.models.detection): raw per-anchor outputs vs their own targets
    "detection": {"batch": detection_batch, "loss": _detection_loss("MultiBoxLoss")},  # SSD
    "detection_yolo": {"batch": detection_batch, "loss": _detection_loss("YOLOLoss")},
    # pose networks: images -> keypoint heatmaps (and part-affinity fields), regressed with MSE
    "keypoints": {"batch": keypoint_batch, "loss": keras.losses.MeanSquaredError},
    # semantic segmentation: images -> per-pixel logits [B, H, W, C]; y [B, H, W] int labels
    "segmentation": {"batch": segmentation_batch, "loss": _sparse_ce},
    # YOLO v1 grid rows [B, S·S·2, 5 + C] vs its own targets
    "detection_yolo_v1": {"batch": detection_batch, "loss": _detection_loss_from("yolo_v1", "YOLOv1Loss")},
    # two-stage detectors (Faster R-CNN, R-FCN): packed [B, A + R, 9 + C] vs their own targets
    "detection_two_stage": {"batch": two_stage_batch,
                            "loss": _detection_loss_from("two_stage", "TwoStageLoss")},
}


def small_model(name: str):
    """The registered model at its small test size."""
    return kerasdl.create_model(name, **MODELS.entry(name).info.get("small", {}))


def task_of(name: str) -> dict:
    task = MODELS.entry(name).info.get("task")
    if task not in TASKS:
        raise KeyError(f"model {name!r} declares task {task!r}; add it to tests/contract.py TASKS")
    return TASKS[task]
