"""The shared model contract: what every registered model must satisfy.

Adding a model = registering it with ``kerasdl.models.base.register_model``; the parametrised tests
in test_model_contract.py then cover it. Per-task inputs and losses live in ``TASKS``.
"""
from __future__ import annotations

import keras
import numpy as np

import kerasdl
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


def metric_embedding_batch(model, rng, batch=16, classes=4):
    """Images in [0, 1) -> embeddings [B, D]; y = int labels of ``classes`` classes (the batch is its
    own support set: kerasdl.meta.prototypical.PrototypicalLoss)."""
    shape = (batch, *model.inputs[0].shape[1:])
    return rng.random(shape, dtype=np.float32), rng.integers(0, classes, batch).astype("int32")


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
    # few-shot embeddings (Conv-4): images -> embeddings, trained through class prototypes
    "metric_embedding": {"batch": metric_embedding_batch, "loss": _prototypical},
}


def small_model(name: str):
    """The registered model at its small test size."""
    return kerasdl.create_model(name, **MODELS.entry(name).info.get("small", {}))


def task_of(name: str) -> dict:
    task = MODELS.entry(name).info.get("task")
    if task not in TASKS:
        raise KeyError(f"model {name!r} declares task {task!r}; add it to tests/contract.py TASKS")
    return TASKS[task]
