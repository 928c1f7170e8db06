#!/usr/bin/env python
"""Autoencoders and VAEs on Fashion-MNIST: train -> test -ELBO / bits per dim -> sample grids ->
decoder export (latent[, label] -> image) to TFLite with parity.

Command:  python pipelines/vae.py                       (full run, Fashion-MNIST)
          python pipelines/vae.py --dataset mnist10k    (the 10k real MNIST digits)
          python pipelines/vae.py --fast                (CI smoke run: a few steps, < 60 s)
Data:     real Fashion-MNIST 60k train / 10k test (kerasdl.data, offline cache). Pixel intensities
          in [0, 1] are used directly as Bernoulli targets (continuous, not binarised: the common
          practice, so the reported "NLL" is a cross-entropy, not a proper discrete likelihood).
Models:   autoencoder, denoising_autoencoder (Gaussian input noise 0.3, training only), vae,
          beta_vae (beta 4), cvae (label-conditioned); conv 16/32 encoders (--filters), dense 256, latent 16
          (VAEs) / 32 (AEs); Adam 1e-3, batch 128, loss = BernoulliReconstructionLoss (+ beta KL),
          the kerasdl Trainer (fp32, no XLA: XLA is slower for convs on this CPU).
Metrics:  test -ELBO in nats/image (1 reparameterised sample per image; beta not applied, i.e. the
          true bound also for beta_vae) and bits/dim = -ELBO / (784 ln 2); reconstruction BCE
          (nats/image, decoding z_mean) and MSE for every model.
Hardware: 2-core AMD EPYC (AVX2), no GPU, shared with other jobs (wall times are pessimistic).
Last run: 2026-11-23, `python pipelines/vae.py --train-size 12000 --epochs 3` (the first 12k
          training images, 3 epochs per model: the CPU was shared, load average 10-16 on 2 cores),
          27.9 min wall in all (~200 s training per model, 420-840 ms/step at batch 128).
          Test set (10k), nats/image:
            autoencoder            recon BCE 240.8, MSE 0.0214
            denoising_autoencoder  recon BCE 249.3, MSE 0.0256
            vae      -ELBO 267.9 (recon 256.0 + KL 11.9) = 0.493 bits/dim; recon BCE(z_mean) 253.0
            beta_vae -ELBO 271.6 (recon 266.0 + KL 5.6)  = 0.500 bits/dim; recon BCE(z_mean) 257.8
            cvae     -ELBO 265.0 (recon 254.2 + KL 10.8) = 0.488 bits/dim; recon BCE(z_mean) 251.4
          Decoder fp32 TFLite max-abs error 2.4e-7 / 3.0e-7 / 3.3e-7 (vae / beta_vae / cvae).
          beta_vae uses few latents (KL 1.6, 1.4, 1.3, 0.5 nats on the top four, < 0.2 on the
          rest); at this budget the cvae's prior samples depend on the label only weakly.
Output:   <out-dir>/vae_<dataset>/ (metrics.json, reconstructions.png, <model>_prior_samples.png,
          beta_vae_traversal.png, cvae_per_class.png, <model>/logs/) and the decoders
          <out-dir>/<dataset>_<model>_decoder/ (model.keras, saved_model/, *_fp32.tflite,
          metadata.json; fp32 TFLite max-abs error <= 1e-4 checked). The cvae decoder's single
          input is concat(z, one_hot(label)).
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402
import numpy as np  # noqa: E402

import kerasdl  # noqa: E402
from kerasdl.analysis.image_grid import save_image_grid  # noqa: E402
from kerasdl.data.pipelines import from_arrays  # noqa: E402
from kerasdl.export.package import export_model  # noqa: E402
from kerasdl.io import atomic_write_json  # noqa: E402
from kerasdl.models.generative import vae  # noqa: E402
from kerasdl.registry import load_dataset  # noqa: E402
from kerasdl.train import Trainer  # noqa: E402

MODELS = ("autoencoder", "denoising_autoencoder", "vae", "beta_vae", "cvae")
VARIATIONAL = ("vae", "beta_vae", "cvae")


def make_data(x, labels, batch_size, training, conditional):
    ds = from_arrays(x, labels, batch_size, training=training)
    if conditional:
        return ds.map(lambda xb, yb: ((xb, yb), xb))
    return ds.map(lambda xb, yb: (xb, xb))


def reconstruction_error(model, x, labels, conditional) -> dict:
    """Deterministic reconstruction (z = z_mean for VAEs): BCE summed per image, pixel MSE."""
    logits = model.predict((x, labels) if conditional else x, batch_size=500, verbose=0)
    bce = np.asarray(vae.BernoulliReconstructionLoss(reduction=None)(x, logits))
    probs = 1 / (1 + np.exp(-logits.astype(np.float64)))
    return {"recon_bce": float(bce.mean()), "recon_mse": float(np.mean((probs - x) ** 2))}


def traversal(model, x, steps=9, dims=8):
    """Decode z_mean of one image with each of the ``dims`` most used latents (largest mean KL
    on ``x``) swept over [-3, 3]: one row per latent."""
    mu, logvar = (np.asarray(t) for t in vae.encoder_model(model)(x, training=False))
    kl = (0.5 * (mu ** 2 + np.exp(logvar) - 1 - logvar)).mean(0)
    order = np.argsort(-kl)[:dims]
    codes = np.repeat(mu[:1], dims * steps, axis=0)
    for row, d in enumerate(order):
        codes[row * steps:(row + 1) * steps, d] = np.linspace(-3, 3, steps)
    return np.asarray(vae.decoder_model(model).predict(codes, verbose=0)), order, kl[order]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="fashion_mnist", choices=("fashion_mnist", "mnist10k"))
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--filters", type=int, nargs="+", default=[16, 32])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--train-size", type=int, default=None,
                        help="train on the first N training images (default: all)")
    parser.add_argument("--fast", action="store_true", help="a few steps on a subset (CI)")
    parser.add_argument("--out-dir", default="saved_models")
    args = parser.parse_args(argv)
    keras.utils.set_random_seed(0)

    x_train, y_train = load_dataset(args.dataset, split="train", as_numpy=True)
    x_test, y_test = load_dataset(args.dataset, split="test", as_numpy=True)
    if args.train_size:
        x_train, y_train = x_train[:args.train_size], y_train[:args.train_size]
    if args.fast:
        x_train, y_train, x_test, y_test = x_train[:256], y_train[:256], x_test[:256], y_test[:256]
        args.epochs = 1
        if "--models" not in (sys.argv[1:] if argv is None else argv):
            args.models = ["vae", "cvae"]
    out = Path(args.out_dir) / f"vae_{args.dataset}"
    grid_x, grid_y = x_test[:16], y_test[:16]
    rows, metrics = [grid_x], {"dataset": args.dataset, "epochs": args.epochs,
                                "targets": "continuous pixel intensities in [0, 1]"}
    start_all = time.perf_counter()
    for name in args.models:
        start = time.perf_counter()
        conditional = name == "cvae"
        size = {"filters": (8, 16), "hidden": 32} if args.fast else {"filters": tuple(args.filters)}
        model = kerasdl.create_model(name, **size)
        trainer = Trainer(model, vae.BernoulliReconstructionLoss(),
                          keras.optimizers.Adam(args.learning_rate), jit_compile=False,
                          log_dir=out / name / "logs", verbose=2)
        trainer.fit(make_data(x_train, y_train, args.batch_size, True, conditional),
                    epochs=args.epochs,
                    validation_data=make_data(x_test, y_test, 500, False, conditional))
        result = {"params": int(model.count_params()),
                  "train_seconds": round(sum(trainer.epoch_seconds), 1),
                  "final_train_loss": trainer.history.epochs[-1]["loss"],
                  **reconstruction_error(model, x_test, y_test, conditional)}
        probs = lambda logits: 1 / (1 + np.exp(-np.asarray(logits)))  # noqa: E731
        rows.append(probs(model((grid_x, grid_y) if conditional else grid_x, training=False)))
        if name in VARIATIONAL:
            result["test"] = vae.negative_elbo(model, x_test, y_test if conditional else None)
            result["beta"] = model.get_config()["beta"]
            decoder = vae.decoder_model(model)
            z = np.random.default_rng(1).standard_normal((100, model.get_config()["latent_dim"]))
            z = z.astype("float32")
            if conditional:  # one row per class, the same z along each column
                labels = np.repeat(np.arange(10, dtype="int32"), 10)
                samples = decoder.predict((np.tile(z[:10], (10, 1)), labels), verbose=0)
                save_image_grid(samples, out / "cvae_per_class.png", columns=10,
                                title=f"cvae: one row per class ({args.dataset})")
            else:
                save_image_grid(decoder.predict(z[:64], verbose=0),
                                out / f"{name}_prior_samples.png", columns=8,
                                title=f"{name}: decoded z ~ N(0, I)")
            if name == "beta_vae":
                images, dims, kls = traversal(model, x_test[:500])
                save_image_grid(images, out / "beta_vae_traversal.png", columns=9,
                                title="beta_vae: rows = latents by KL, z_d in [-3, 3]")
                result["traversal_dims"], result["traversal_kl"] = dims.tolist(), kls.tolist()
            if name == "vae" or not args.fast:
                exporter = vae.export_decoder_model(model)
                codes = np.random.default_rng(2).standard_normal(
                    (64, exporter.inputs[0].shape[-1])).astype("float32")
                if conditional:
                    codes[:, -10:] = np.eye(10, dtype="float32")[np.arange(64) % 10]
                meta = export_model(exporter, f"{args.dataset}_{name}_decoder",
                                    out_dir=args.out_dir, modes=("fp32",), test_data=codes,
                                    latency_runs=5 if args.fast else 50,
                                    metrics={k: v for k, v in result.items() if k == "test"})
                result["decoder_tflite_max_abs_error"] = meta["modes"]["fp32"]["parity"]["max_abs_error"]
        result["wall_seconds"] = round(time.perf_counter() - start, 1)
        metrics[name] = result
        print(f"{name}: {result}", flush=True)
        trainer.close()
        keras.backend.clear_session()
    save_image_grid(np.concatenate(rows), out / "reconstructions.png", columns=16,
                    title="rows: test images, then " + ", ".join(args.models))
    metrics["wall_seconds"] = round(time.perf_counter() - start_all, 1)
    atomic_write_json(out / "metrics.json", metrics)
    print(f"wrote {out}", flush=True)


if __name__ == "__main__":
    main()
