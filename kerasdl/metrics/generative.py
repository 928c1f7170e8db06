"""Sample quality of generative models: Inception Score, Fréchet distance (FID) and an evaluator.

Feature space. The published FID/IS use InceptionV3 (ImageNet weights); those weights cannot be
downloaded on this machine, so :func:`feature_classifier` trains kerasdl's ``simple_cnn`` on the
real training split of the dataset (Fashion-MNIST / MNIST-10k) and :class:`GenerativeEvaluator`
uses its penultimate layer for FID and its class probabilities for IS. The numbers are therefore
in *that classifier's* feature space: comparable between models scored with the same classifier,
not with published Inception FIDs. Any Keras model works as the extractor, e.g.
``keras.applications.InceptionV3(weights="imagenet")`` behind a resize/grey-to-RGB wrapper where
the weights are available.

Conventions: images are float32 ``[N, 28, 28, 1]`` in [0, 1] (uint8 is scaled by 1/255); GAN
generators output tanh images in [-1, 1]: pass ``value_range=(-1, 1)`` to rescale them.
"""
from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import numpy as np
from scipy import linalg

__all__ = ["inception_score", "frechet_distance", "gaussian_statistics", "feature_classifier",
           "GenerativeEvaluator"]


# ----------------------------------------------------------------------------------- formulas
def inception_score(probs, splits: int = 10, eps: float = 1e-12):
    """``exp(E_x KL(p(y|x) || p(y)))`` with ``p(y)`` the mean prediction of each of ``splits``
    equal parts; returns ``(mean, std)`` over the parts (Salimans et al., 2016).

    ``probs``: ``[N, K]`` class probabilities (rows summing to 1).
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or len(p) == 0:
        raise ValueError(f"probs must be a non-empty [N, K] array, got shape {p.shape}")
    if not 1 <= splits <= len(p):
        raise ValueError(f"splits must be in [1, N={len(p)}], got {splits}")
    if np.any(p < -1e-6) or not np.allclose(p.sum(1), 1.0, atol=1e-3):
        raise ValueError("probs must be probabilities (non-negative rows summing to 1); "
                         "apply a softmax to logits first")
    p = np.clip(p, 0.0, 1.0)
    scores = []
    for part in np.array_split(p, splits):
        marginal = part.mean(axis=0, keepdims=True)
        kl = np.sum(part * (np.log(part + eps) - np.log(marginal + eps)), axis=1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


def gaussian_statistics(features):
    """Mean and (unbiased) covariance of ``[N, D]`` features, in float64."""
    f = np.asarray(features, dtype=np.float64).reshape(len(features), -1)
    if len(f) < 2:
        raise ValueError("need at least 2 samples for a covariance")
    return f.mean(axis=0), np.cov(f, rowvar=False)


def _sqrtm_trace(sigma1, sigma2, eps):
    """Tr((S1 S2)^½) by scipy's general square root; retries with ``eps·I`` added if singular."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(sigma1 @ sigma2)
    singular = any(issubclass(w.category, linalg.LinAlgWarning) for w in caught)
    if singular or not np.all(np.isfinite(covmean)):  # e.g. dead ReLU features: zero variance
        warnings.warn(f"frechet_distance: S1·S2 is singular; adding {eps}·I to both covariances "
                      "(method='eigen' handles singular matrices exactly)",
                      RuntimeWarning, stacklevel=3)
        offset = eps * np.eye(len(sigma1))
        covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        scale = max(1.0, np.abs(covmean.real).max())
        if np.abs(covmean.imag).max() > 1e-3 * scale:
            raise ValueError(f"sqrtm(S1·S2) has a large imaginary part "
                             f"({np.abs(covmean.imag).max():.3g}); use method='eigen'")
        covmean = covmean.real  # round-off of a PSD product's square root
    return float(np.trace(covmean))


def _eigen_trace(sigma1, sigma2):
    """Tr((S1 S2)^½) = Tr((√S1 S2 √S1)^½): S1·S2 is similar to the symmetric PSD √S1 S2 √S1, so
    the trace is the sum of the square roots of its (clipped non-negative) eigenvalues."""
    w, v = linalg.eigh(sigma1)
    root1 = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    middle = root1 @ sigma2 @ root1
    eig = linalg.eigvalsh((middle + middle.T) / 2)
    return float(np.sum(np.sqrt(np.clip(eig, 0.0, None))))


def frechet_distance(mu1, sigma1, mu2, sigma2, method: str = "sqrtm", eps: float = 1e-6) -> float:
    """Fréchet (2-Wasserstein) distance² between N(mu1, S1) and N(mu2, S2):
    ``||mu1 - mu2||² + Tr(S1 + S2 - 2 (S1 S2)^½)`` (Heusel et al., 2017).

    method: "sqrtm" (scipy.linalg.sqrtm of S1·S2, as the reference FID code; tiny imaginary parts
    dropped, ``eps·I`` added with a warning if singular) or "eigen" (symmetric eigendecomposition;
    stable for singular PSD matrices, e.g. fewer samples than feature dimensions).
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1 = np.atleast_2d(np.asarray(sigma1, np.float64))
    sigma2 = np.atleast_2d(np.asarray(sigma2, np.float64))
    d = mu1.shape[0]
    if mu1.shape != (d,) or mu2.shape != (d,) or sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise ValueError(f"shape mismatch: mu {mu1.shape}/{mu2.shape}, sigma {sigma1.shape}/"
                         f"{sigma2.shape}")
    if method == "sqrtm":
        tr_covmean = _sqrtm_trace(sigma1, sigma2, eps)
    elif method == "eigen":
        tr_covmean = _eigen_trace(sigma1, sigma2)
    else:
        raise ValueError(f"method must be 'sqrtm' or 'eigen', got {method!r}")
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * tr_covmean)


# ------------------------------------------------------------------------ feature classifier
def feature_classifier(dataset: str = "fashion_mnist", directory=None, epochs: int = 3, *,
                       batch_size: int = 128, learning_rate: float = 2e-3,
                       train_examples: int | None = None, test_examples: int | None = None,
                       model_kwargs: dict | None = None, jit_compile="auto", retrain: bool = False,
                       seed: int = 0, verbose=0):
    """A ``simple_cnn`` classifier trained by kerasdl's Trainer on ``dataset``'s real training
    split, cached as ``<directory>/model.keras`` (default ``saved_models/fid_classifier_<dataset>``)
    with ``metadata.json`` (test accuracy, settings, wall time).

    A cached model is reloaded when its metadata matches ``dataset``/``epochs``/``train_examples``
    (else, or with ``retrain=True``, it is trained again and replaced atomically).
    ``train_examples``/``test_examples`` keep subsets and ``model_kwargs`` (e.g.
    ``{"filters": (8, 16)}``) shrinks the network, for tests and --fast runs.
    """
    import keras

    from kerasdl.data.datasets import dataset_info
    from kerasdl.data.pipelines import from_arrays
    from kerasdl.io import atomic_path, atomic_write_json
    from kerasdl.losses import classification_loss
    from kerasdl.registry import create_model, load_dataset, load_model
    from kerasdl.train.trainer import Trainer

    directory = Path(directory or Path("saved_models") / f"fid_classifier_{dataset}")
    model_kwargs = dict(model_kwargs or {})
    settings = {"dataset": dataset, "model": "simple_cnn",
                "model_kwargs": json.loads(json.dumps(model_kwargs)), "epochs": int(epochs),
                "train_examples": train_examples, "test_examples": test_examples,
                "batch_size": batch_size,
                "learning_rate": learning_rate, "seed": seed}
    meta_path, model_path = directory / "metadata.json", directory / "model.keras"
    if not retrain and model_path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if {k: meta.get(k) for k in settings} == settings:
            return load_model(model_path)

    keras.utils.set_random_seed(seed)
    info = dataset_info(dataset)
    x, y = load_dataset(dataset, split="train", as_numpy=True)
    x_test, y_test = load_dataset(dataset, split="test", as_numpy=True)
    if train_examples:
        keep = np.random.default_rng(seed).permutation(len(x))[:train_examples]
        x, y = x[keep], y[keep]
    x_test, y_test = x_test[:test_examples], y_test[:test_examples]
    batch_size = min(batch_size, len(x))
    steps = len(x) // batch_size
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, epochs * steps, alpha=0.01)
    trainer = Trainer(lambda: create_model("simple_cnn", num_classes=info["num_classes"],
                                           input_shape=info["image_shape"], **model_kwargs),
                      classification_loss(), keras.optimizers.Adam(schedule),
                      [keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
                      jit_compile=jit_compile, steps_per_execution=8, verbose=verbose)
    start = time.perf_counter()
    try:
        trainer.fit(from_arrays(x, y, batch_size, training=True, seed=seed), epochs=epochs,
                    steps_per_epoch=steps)
        test = trainer.evaluate(from_arrays(x_test, y_test, 512, training=False))
    finally:
        trainer.close()
    model = trainer.model
    with atomic_path(model_path) as tmp:
        model.save(tmp)
    atomic_write_json(meta_path, {**settings, "test_accuracy": test["accuracy"],
                                  "test_loss": test["loss"], "test_examples_used": len(x_test),
                                  "train_examples_used": len(x), "policy": trainer.policy,
                                  "train_seconds": round(time.perf_counter() - start, 1)})
    return model


def classifier_metadata(directory) -> dict:
    """The ``metadata.json`` written by :func:`feature_classifier` (test accuracy & settings)."""
    return json.loads((Path(directory) / "metadata.json").read_text())


# --------------------------------------------------------------------------------- evaluator
def _as_unit_images(images, value_range):
    x = np.asarray(images)
    if x.dtype == np.uint8:
        return x.astype(np.float32) / np.float32(255.0)
    low, high = value_range
    x = x.astype(np.float32)
    return (x - low) / np.float32(high - low) if (low, high) != (0, 1) else x


class GenerativeEvaluator:
    """FID and IS of image batches against fixed real images, in a Keras classifier's space.

    Args:
        classifier: a Keras model mapping ``[N, H, W, C]`` images in [0, 1] to class logits or
            probabilities (``outputs``: "logits", "probs" or "auto" = softmax unless the outputs
            already are probabilities). Trained (:func:`feature_classifier`) or not: any Keras
            feature extractor is accepted.
        real_images: reference images in [0, 1] (or uint8); their feature mean/covariance are
            computed once.
        feature_layer: name of the layer whose output are the FID features; default the input
            of the last layer (the penultimate representation).
        value_range: the range of the images given to :meth:`score` / produced by generators,
            mapped to [0, 1] (``(-1, 1)`` for tanh generators).
        splits: IS splits (capped at the number of images).
    """

    def __init__(self, classifier, real_images, feature_layer: str | None = None,
                 batch_size: int = 500, value_range=(0.0, 1.0), outputs: str = "auto",
                 splits: int = 10):
        import keras

        if outputs not in ("auto", "logits", "probs"):
            raise ValueError(f"outputs must be 'auto', 'logits' or 'probs', got {outputs!r}")
        features = (classifier.get_layer(feature_layer).output if feature_layer
                    else classifier.layers[-1].input)
        if isinstance(features, (list, tuple)):
            features = features[0]
        self.extractor = keras.Model(classifier.inputs, [features, classifier.outputs[0]],
                                     name=f"{classifier.name}_features")
        self.batch_size, self.value_range = int(batch_size), tuple(value_range)
        self.outputs, self.splits = outputs, int(splits)
        real = _as_unit_images(real_images, (0.0, 1.0))
        feats, self.real_probs = self.features(real)
        self.mu, self.sigma = gaussian_statistics(feats)
        self.num_real = len(real)

    def features(self, unit_images):
        """``(features [N, D], probabilities [N, K])`` of images already in [0, 1]."""
        feats, outs = [], []
        for i in range(0, len(unit_images), self.batch_size):
            f, o = self.extractor.predict_on_batch(unit_images[i:i + self.batch_size])
            feats.append(np.asarray(f, np.float64).reshape(len(f), -1))
            outs.append(np.asarray(o, np.float64))
        return np.concatenate(feats), self._probabilities(np.concatenate(outs))

    def _probabilities(self, out):
        is_probs = np.all(out >= 0) and np.allclose(out.sum(1), 1.0, atol=1e-3)
        if self.outputs == "probs" or (self.outputs == "auto" and is_probs):
            return out
        z = out - out.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def score(self, images, method: str = "sqrtm") -> dict:
        """``{"fid", "is", "is_std"}`` of ``images`` (in ``value_range``) vs the real images."""
        unit = _as_unit_images(images, self.value_range)
        feats, probs = self.features(unit)
        mu, sigma = gaussian_statistics(feats)
        is_mean, is_std = inception_score(probs, splits=min(self.splits, len(probs)))
        return {"fid": frechet_distance(self.mu, self.sigma, mu, sigma, method=method),
                "is": is_mean, "is_std": is_std}

    def generate(self, generator, num_samples: int = 5000, latent_dim=None, num_classes=None,
                 seed: int = 0):
        """``num_samples`` generator outputs (in ``value_range``) from N(0, 1) noise (seeded), with
        uniform labels for a conditional generator (two inputs: noise, labels)."""
        rng = np.random.default_rng(seed)
        noise_shape = tuple(generator.inputs[0].shape[1:]) if latent_dim is None else \
            tuple(np.atleast_1d(latent_dim))
        conditional = len(generator.inputs) > 1
        if conditional:
            num_classes = num_classes or getattr(generator, "num_classes", None) or \
                generator.get_config().get("num_classes")
            if not num_classes:
                raise ValueError("conditional generator: pass num_classes")
            label_shape = tuple(d for d in generator.inputs[1].shape[1:])
        images = []
        for i in range(0, num_samples, self.batch_size):
            n = min(self.batch_size, num_samples - i)
            z = rng.standard_normal((n, *noise_shape)).astype(np.float32)
            if conditional:
                labels = rng.integers(0, num_classes, size=(n, *label_shape)).astype(np.int32)
                out = generator.predict_on_batch([z, labels])
            else:
                out = generator.predict_on_batch(z)
            images.append(np.asarray(out[0] if isinstance(out, (list, tuple)) else out))
        return np.concatenate(images)

    def score_generator(self, generator, num_samples: int = 5000, latent_dim=None,
                        num_classes=None, seed: int = 0) -> dict:
        """:meth:`score` of ``num_samples`` fresh samples of ``generator`` (see :meth:`generate`)."""
        return self.score(self.generate(generator, num_samples, latent_dim, num_classes, seed))

    def callback(self, generator, num_samples: int = 2000, every: int = 1, grid_path=None,
                 latent_dim=None, num_classes=None, seed: int = 0, grid_size: int = 64):
        """A ``Trainer.fit(callbacks=[...])`` hook ``fn(epoch, trainer) -> dict | None``.

        ``epoch`` is the number of the epoch just finished (from 1, as the Trainer passes it);
        every ``every`` epochs it scores ``num_samples`` samples (same noise each time, so epochs
        are comparable) and returns ``{"fid", "is", "is_std"}`` for the epoch logs. With
        ``grid_path`` (may contain ``{epoch}``) it also writes a PNG grid of the first
        ``grid_size`` samples.
        """
        from kerasdl.analysis.image_grid import save_image_grid

        def fn(epoch, trainer=None):
            if epoch % every:
                return None
            images = self.generate(generator, num_samples, latent_dim, num_classes, seed)
            scores = self.score(images)
            if grid_path:
                save_image_grid(images[:grid_size], str(grid_path).format(epoch=epoch),
                                value_range=self.value_range,
                                title=f"epoch {epoch}: FID {scores['fid']:.2f}, "
                                      f"IS {scores['is']:.2f}")
            return scores

        return fn
