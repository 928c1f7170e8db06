#!/usr/bin/env python
"""GAN zoo on Fashion-MNIST (or MNIST-10k): GAN, DCGAN, LSGAN, WGAN, WGAN-GP, SNGAN, SAGAN, RaGAN
at an equal step budget, scored by FID and IS every epoch; the best generator exported to TFLite.

Command:  python pipelines/gan.py                            (every variant in DEFAULT_VARIANTS)
          python pipelines/gan.py --variants dcgan,sngan --epochs 8 --dataset mnist10k
          python pipelines/gan.py --variants dcgan --ttur --label-smoothing 0.1   (tricks as options)
          python pipelines/gan.py --fast --out-dir /tmp/gan       (CI smoke run: 54 s CPU; 3.5 min
                                                                   wall on the loaded machine)
Data:     real Fashion-MNIST train split (60k) scaled to [-1, 1]; FID/IS reference: the test split.
          FID/IS are measured in the feature space of kerasdl's own simple_cnn classifier trained
          on the real training images (kerasdl.metrics.feature_classifier; no Inception weights
          offline), so they compare variants with each other, not with published Inception FIDs.
Recipe:   batch 64, equal *train steps* (one step = one batch = one discriminator update; the
          generator updates every step, or every 5th step for WGAN/WGAN-GP, d_steps=5). Networks
          are kerasdl.models.generative.gan_networks at width ``--filters``; Adam(2e-4, β1 0.5)
          unless the variant's paper says otherwise (WGAN: RMSprop 5e-5 + clipping 0.01; WGAN-GP:
          Adam(1e-4, 0.5, 0.9), λ 10, layer-norm critic; SAGAN: TTUR 1e-4 / 4e-4, hinge).
Hardware: 2-core AMD EPYC (AVX2), no GPU, shared with other jobs (load 8-16 during the run, so
          wall times are pessimistic); fp32, no XLA (XLA is slower for convs on this CPU).
Last run: 2026-11-23, defaults (4 epochs x 100 steps = 400 steps at batch 64, i.e. 0.43 of an
          epoch of data; filters 16, latent 64; FID/IS on 1,000 samples vs 5,000 test images), split
          over three processes run side by side on the loaded machine (--fid-samples 1000):
            --variants gan_minimax,gan_ns,dcgan,lsgan,sngan,wgan                 700 s
            --variants sagan,wgan_gp,ragan --out-dir saved_models/gan_extra      684 s
            --variants dcgan_ttur,dcgan_smooth,dcgan_fm,dcgan_mbd,vaegan --out-dir saved_models/gan_tricks
                                                                                  625 s
          FID classifier (simple_cnn, 20k train images, 2 epochs): test accuracy 86.8%, 612 s.
          Real vs real (test 5,000-9,999 vs 0-4,999): FID 0.27, IS 6.74.
            variant      objective             steps  G updates  wall s  ms/step   FID     IS
            sngan        hinge (SN critic)       400     400      104     192    128.06  1.81
            dcgan        non-saturating          400     400       98     125    130.34  1.74
            ragan        relativistic average    400     400      204     222    142.00  1.57
            lsgan        least squares           400     400      117     166    179.17  1.26
            gan_minimax  minimax (MLP)           400     400       92     111    181.25  1.35
            gan_ns       non-saturating (MLP)    400     400       76      76    191.98  1.25
            sagan        hinge, SN, attention    400     400      274     557    213.25  1.13
            wgan_gp      Wasserstein + GP 10     400      80      126     184    223.11  1.04
            wgan         Wasserstein, clip 0.01  400      80      120     148    227.32  1.03
          Best (SNGAN) / plain GAN (minimax MLP, the better plain one) = 0.707: the issue's target
          (<= 0.5) is NOT reached at this budget. All runs are very early in training (samples
          are blobs; real-vs-real FID is 0.27); WGAN/WGAN-GP got only 80 generator updates
          (d_steps 5) and SAGAN (TTUR, beta1 0) starts slower. Ranking at longer budgets may differ.
          Tricks on DCGAN (same budget; compare with dcgan 130.34):
            dcgan_smooth (one-sided 0.1) 133.00 / 1.73   vaegan (VAE-GAN, gamma 1e-2) 133.92 / 1.65
            dcgan_mbd (16 kernels)       140.81 / 1.56   dcgan_fm (feature matching)  166.89 / 1.35
            dcgan_ttur (1e-4 / 4e-4, beta1 0)  218.55 / 1.07   (FID / IS; wall 68-176 s each)
          Exported: generator_sngan (TFLite fp32, built-in ops only, max-abs error 4.2e-7).
Longer:   2026-11-23, --variants gan_minimax,gan_ns,dcgan,sngan,lsgan,wgan_gp --epochs 15
          --fid-samples 2000 (1,500 steps each; 1,498 s in all, beside the CI suite), same classifier:
            dcgan 75.76 / 2.53, lsgan 95.55 / 2.16, sngan 98.40 / 2.09, gan_minimax 111.17 / 2.12,
            gan_ns 131.57 / 1.88, wgan_gp 176.34 / 1.22 (300 G updates)        (FID / IS)
          Best / plain = 0.681: still above the 0.5 target; every FID was still falling.
Output:   saved_models/gan_<dataset>/ (gan_<dataset>_fast with --fast): results.md (table),
          metrics.json, fid_vs_epoch.png, samples_<variant>.png, logs/<variant>/ (history, curves),
          and the best generator as a package generator_<variant>/ (model.keras, saved_model/,
          *_fp32.tflite, metadata.json with the TFLite parity).
"""
import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from kerasdl.arguments import choose  # noqa: E402
from kerasdl.tables import markdown_table  # noqa: E402

# name -> (generator, discriminator, GANTrainer settings, discriminator hyperparameters)
VARIANTS = {
    "gan_minimax": ("mlp_generator", "mlp_discriminator", {"objective": "minimax"}, {}),
    "gan_ns": ("mlp_generator", "mlp_discriminator", {"objective": "non_saturating"}, {}),
    "dcgan": ("dcgan_generator", "dcgan_discriminator", {"objective": "non_saturating"}, {}),
    "lsgan": ("dcgan_generator", "dcgan_discriminator", {"objective": "least_squares"}, {}),
    "wgan": ("dcgan_generator", "dcgan_discriminator",
             {"objective": "wasserstein", "d_steps": 5, "clip_weights": 0.01, "optimizer": "rmsprop"},
             {"normalization": "none"}),
    "wgan_gp": ("dcgan_generator", "dcgan_discriminator",
                {"objective": "wasserstein", "d_steps": 5, "gradient_penalty": 10.0,
                 "optimizer": "adam_gp"}, {"normalization": "layer"}),
    "sngan": ("dcgan_generator", "dcgan_discriminator", {"objective": "hinge"},
              {"normalization": "spectral"}),
    "sagan": ("sagan_generator", "sagan_discriminator", {"objective": "hinge", "optimizer": "ttur"}, {}),
    "ragan": ("dcgan_generator", "dcgan_discriminator", {"objective": "relativistic_average"}, {}),
    # the tricks, on DCGAN (also available for every variant via the command-line options)
    "dcgan_ttur": ("dcgan_generator", "dcgan_discriminator",
                   {"objective": "non_saturating", "optimizer": "ttur"}, {}),
    "dcgan_smooth": ("dcgan_generator", "dcgan_discriminator",
                     {"objective": "non_saturating", "label_smoothing": 0.1}, {}),
    "dcgan_fm": ("dcgan_generator", "dcgan_discriminator",
                 {"objective": "non_saturating", "feature_matching": "features"}, {}),
    "dcgan_mbd": ("dcgan_generator", "dcgan_discriminator", {"objective": "non_saturating"},
                  {"minibatch_discrimination": 16}),
    # Larsen et al. 2016: encoder + DCGAN decoder/discriminator, reconstruction in D's features
    "vaegan": ("dcgan_generator", "dcgan_discriminator", {"objective": "non_saturating"},
               {"normalization": "layer"}),
}
DEFAULT_VARIANTS = ("gan_minimax", "gan_ns", "dcgan", "lsgan", "wgan", "wgan_gp", "sngan", "sagan",
                    "ragan")


def optimizers(kind: str, ttur: bool):
    """(generator, discriminator) optimizers of a variant."""
    import keras

    if kind == "rmsprop":
        return keras.optimizers.RMSprop(5e-5), keras.optimizers.RMSprop(5e-5)
    if kind == "adam_gp":
        return (keras.optimizers.Adam(1e-4, beta_1=0.5, beta_2=0.9),
                keras.optimizers.Adam(1e-4, beta_1=0.5, beta_2=0.9))
    if kind == "ttur" or ttur:
        return (keras.optimizers.Adam(1e-4, beta_1=0.0, beta_2=0.9),
                keras.optimizers.Adam(4e-4, beta_1=0.0, beta_2=0.9))
    return keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5)


def build_trainer(name, args, log_dir):
    import kerasdl
    from kerasdl.train.adversarial import GANTrainer

    g_name, d_name, settings, d_kwargs = VARIANTS[name]
    settings = dict(settings)
    g_kwargs = {"latent_dim": args.latent_dim}
    d_kwargs = dict(d_kwargs)
    if g_name.startswith("mlp"):
        g_kwargs["hidden_units"] = tuple(4 * args.filters * m for m in (4, 8))
        d_kwargs["hidden_units"] = tuple(4 * args.filters * m for m in (8, 4))
    else:
        g_kwargs["filters"] = d_kwargs["filters"] = args.filters
    if args.minibatch_discrimination:
        d_kwargs["minibatch_discrimination"] = args.minibatch_discrimination
    if args.label_smoothing and settings["objective"] in ("minimax", "non_saturating"):
        settings["label_smoothing"] = args.label_smoothing
    if args.feature_matching:
        settings["feature_matching"] = "features" if "dcgan" in d_name or "sagan" in d_name \
            else f"act{len(d_kwargs['hidden_units']) - 1}"
    g_opt, d_opt = optimizers(settings.pop("optimizer", "adam"), args.ttur)
    generator = kerasdl.create_model(g_name, **g_kwargs)
    discriminator = kerasdl.create_model(d_name, **d_kwargs)
    common = dict(g_optimizer=g_opt, d_optimizer=d_opt, seed=args.seed, jit_compile=args.jit,
                  log_dir=log_dir, verbose=2 if args.verbose else 0)
    if name == "vaegan":
        from kerasdl.models.generative.vae_gan import ConvEncoder, VAEGANTrainer

        settings.pop("objective")
        encoder = ConvEncoder(latent_dim=args.latent_dim, filters=args.filters)
        trainer = VAEGANTrainer(encoder, generator, discriminator, "down7_act", **common,
                                **settings)
        settings["objective"] = "non_saturating + feature-space VAE"
    else:
        trainer = GANTrainer(generator, discriminator, **common, **settings)
    return trainer, {"generator": g_name, "discriminator": d_name, **g_kwargs,
                     "discriminator_kwargs": d_kwargs,
                     **{k: v for k, v in settings.items()}}


def fid_plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from kerasdl.io import save_figure

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for row in rows:
        steps = [e["step"] for e in row["per_epoch"]]
        ax.plot(steps, [e["fid"] for e in row["per_epoch"]], marker="o", label=row["variant"])
    ax.set(xlabel="train steps (batches)", ylabel="FID (simple_cnn features)", yscale="log",
           title="FID vs steps")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    save_figure(fig, path, dpi=100)


def results_table(rows, dataset) -> str:
    body = [(r["variant"], f"{r['config']['generator']} / {r['config']['discriminator']}",
             r["config"]["objective"], r["steps"], r["generator_updates"], f"{r['wall_seconds']:.0f}",
             f"{r['ms_per_step']:.0f}", f"{r['fid']:.2f}", f"{r['is']:.2f}")
            for r in sorted(rows, key=lambda r: r["fid"])]
    table = markdown_table(["variant", "networks", "objective", "steps", "G updates", "wall time (s)",
                            "ms/step", "FID", "IS"], body, align="lllrrrrrr")
    return f"# GAN variants on {dataset} (equal step budget)\n\n{table}\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="fashion_mnist", choices=("fashion_mnist", "mnist10k"))
    parser.add_argument("--variants", default=",".join(DEFAULT_VARIANTS),
                        help=f"comma-separated subset of {', '.join(VARIANTS)}")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--steps-per-epoch", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--filters", type=int, default=16, help="base width of the conv nets")
    parser.add_argument("--latent-dim", type=int, default=64)
    parser.add_argument("--fid-samples", type=int, default=2000)
    parser.add_argument("--classifier-epochs", type=int, default=2)
    parser.add_argument("--classifier-examples", type=int, default=20000)
    parser.add_argument("--ttur", action="store_true", help="TTUR: G 1e-4, D 4e-4 (Adam 0, 0.9)")
    parser.add_argument("--label-smoothing", type=float, default=0.0, help="one-sided (BCE GANs)")
    parser.add_argument("--feature-matching", action="store_true")
    parser.add_argument("--minibatch-discrimination", type=int, default=0, help="kernels (0 off)")
    parser.add_argument("--jit", action="store_true", help="XLA (slower for convs on this CPU)")
    parser.add_argument("--no-export", action="store_true")
    parser.add_argument("--fast", action="store_true", help="CI smoke run (< 60 s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--out-dir", default="saved_models")
    args = parser.parse_args(argv)
    names = choose(parser, "--variants", args.variants, VARIANTS)
    if args.fast:
        args.epochs, args.steps_per_epoch, args.filters, args.latent_dim = 2, 3, 4, 16
        args.fid_samples, args.classifier_epochs, args.classifier_examples = 200, 1, 1000

    import keras

    from kerasdl.analysis.image_grid import save_image_grid
    from kerasdl.data.pipelines import from_arrays
    from kerasdl.export import export_model
    from kerasdl.io import atomic_write_json, atomic_write_text
    from kerasdl.metrics import GenerativeEvaluator, feature_classifier
    from kerasdl.registry import load_dataset

    start_all = time.perf_counter()
    out = Path(args.out_dir) / f"gan_{args.dataset}{'_fast' if args.fast else ''}"
    out.mkdir(parents=True, exist_ok=True)
    x, y = load_dataset(args.dataset, split="train", as_numpy=True)
    x_test, _ = load_dataset(args.dataset, split="test", as_numpy=True)
    test_examples = 500 if args.fast else len(x_test)  # part of the classifier's cache key
    if args.fast:
        x, y, x_test = x[:1000], y[:1000], x_test[:test_examples]
    x = (2.0 * x - 1.0).astype("float32")  # [0, 1] -> [-1, 1], the generators' tanh range

    t0 = time.perf_counter()
    classifier = feature_classifier(args.dataset, directory=out / "fid_classifier",
                                    epochs=args.classifier_epochs,
                                    train_examples=min(args.classifier_examples, len(x)),
                                    test_examples=test_examples)
    classifier_seconds = time.perf_counter() - t0
    classifier_meta = json.loads((out / "fid_classifier" / "metadata.json").read_text())
    evaluator = GenerativeEvaluator(classifier, x_test[:5000], value_range=(-1, 1))
    # Reference point: FID/IS of held-out real images (the rest of the test split).
    real_half = evaluator.score(2 * x_test[5000:] - 1) if len(x_test) >= 5100 else None

    rows = []
    for name in names:
        keras.utils.set_random_seed(args.seed)
        trainer, config = build_trainer(name, args, out / "logs" / name)
        data = from_arrays(x, y, args.batch_size, training=True, seed=args.seed)
        per_epoch = []
        score = evaluator.callback(trainer.generator, num_samples=args.fid_samples, every=1,
                                   seed=args.seed)

        def record(epoch, trainer, score=score, per_epoch=per_epoch):
            scores = score(epoch, trainer)
            per_epoch.append({"epoch": epoch, "step": epoch * args.steps_per_epoch, **scores})
            return scores

        print(f"== {name}: {config}", flush=True)
        t0 = time.perf_counter()
        trainer.fit(data, epochs=args.epochs, steps_per_epoch=args.steps_per_epoch,
                    callbacks=[record])
        wall = time.perf_counter() - t0
        last = trainer.history.epochs[-1]
        steps = args.epochs * args.steps_per_epoch
        save_image_grid(np.asarray(trainer.sample(64, seed=args.seed)), out / f"samples_{name}.png",
                        value_range=(-1, 1), title=f"{name}: {steps} steps, FID {last['fid']:.1f}")
        rows.append({"variant": name, "config": config, "steps": steps,
                     "generator_updates": steps // trainer.d_steps,
                     "wall_seconds": round(wall, 1),
                     "ms_per_step": 1000 * sum(trainer.epoch_seconds) / steps,
                     "fid": last["fid"], "is": last["is"], "is_std": last["is_std"],
                     "d_loss": last["d_loss"], "g_loss": last["g_loss"], "per_epoch": per_epoch})
        print(f"   {name}: FID {last['fid']:.2f}, IS {last['is']:.2f}, {wall:.0f} s", flush=True)
        rows[-1]["_generator"] = trainer.generator
        trainer.close()

    best = min(rows, key=lambda r: r["fid"])
    export = None
    if not args.no_export:
        noise = np.random.default_rng(args.seed).standard_normal((256, args.latent_dim)) \
            .astype("float32")
        meta = export_model(best["_generator"], f"generator_{best['variant']}", out_dir=out,
                            modes=("fp32",), test_data=noise, latency_runs=20,
                            metrics={"fid": best["fid"], "is": best["is"]})
        export = {"variant": best["variant"], "path": str(out / f"generator_{best['variant']}"),
                  "tflite_fp32_max_abs_error": meta["modes"]["fp32"]["parity"]["max_abs_error"],
                  "tflite_ops": meta["modes"]["fp32"]["ops"]}
    for r in rows:
        r.pop("_generator")
    plain = {r["variant"]: r["fid"] for r in rows if r["variant"].startswith("gan_")}
    summary = {"dataset": args.dataset, "args": vars(args), "variants": rows, "best": best["variant"],
               "best_fid": best["fid"], "plain_gan_fid": min(plain.values()) if plain else None,
               "best_over_plain": best["fid"] / min(plain.values()) if plain else None,
               "real_vs_real": real_half, "classifier": {
                   "test_accuracy": classifier_meta.get("test_accuracy"),
                   "train_examples": classifier_meta.get("train_examples_used"),
                   "seconds": round(classifier_seconds, 1)},
               "export": export, "total_seconds": round(time.perf_counter() - start_all, 1)}
    table = results_table(rows, args.dataset)
    notes = [f"Classifier for FID/IS: simple_cnn, test accuracy {summary['classifier']['test_accuracy']:.4f}."]
    if real_half:
        notes.append(f"Real vs real (test images 5000-9999 vs 0-4999): FID {real_half['fid']:.2f}, "
                     f"IS {real_half['is']:.2f}.")
    if plain:
        notes.append(f"Best {best['variant']} FID {best['fid']:.2f} vs plain GAN {summary['plain_gan_fid']:.2f}"
                     f": ratio {summary['best_over_plain']:.3f} (target <= 0.5).")
    if export:
        notes.append(f"Exported {export['path']}: TFLite fp32 max-abs error "
                     f"{export['tflite_fp32_max_abs_error']:.2e}.")
    notes.append(f"Total wall time {summary['total_seconds']:.0f} s.")
    atomic_write_text(out / "results.md", table + "\n" + "\n".join(notes) + "\n")
    atomic_write_json(out / "metrics.json", summary)
    fid_plot(rows, out / "fid_vs_epoch.png")
    print(table + "\n".join(notes))
    return summary


if __name__ == "__main__":
    main()
