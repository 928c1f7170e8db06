"""The kerasdl Trainer: a custom training loop on the fast path.

The train step is a ``tf.function`` compiled by XLA according to a policy (``jit_compile="auto"``:
on for GPU/TPU; on CPU, a short measured trial of both picks the faster), ``steps_per_execution``
steps run inside one graph call, under any ``tf.distribute`` strategy, with mixed precision,
atomic checkpoints and exact resume, a NaN/blow-up guard that rolls back to the last good
checkpoint, TensorBoard scalars, a progress bar, ``history.json`` and a training-curve PNG.

Subclasses (GAN, RL, meta-learning trainers) override ``train_step``/``eval_step`` and reuse the rest.
"""
from __future__ import annotations

import math
import shutil
import sys
import tempfile
import time
import weakref
from pathlib import Path

import keras
import tensorflow as tf

from kerasdl.train.history import History
from kerasdl.train.precision import precision_scope, resolve_precision
from kerasdl.train.strategy import resolve_strategy, worker_role

JIT_POLICIES = ("auto", True, False)


class TrainingDivergedError(RuntimeError):
    """Training kept producing non-finite or exploding losses after ``max_rollbacks`` rollbacks."""


def per_example_loss(loss):
    """A loss callable returning one value per example (Keras ``Loss`` objects lose their reduction)."""
    if isinstance(loss, str):
        return keras.losses.get(loss)
    if isinstance(loss, keras.losses.Loss):
        return type(loss).from_config({**loss.get_config(), "reduction": None})
    if callable(loss):
        return loss
    raise TypeError(f"loss must be a Keras loss, its name or a callable, not {type(loss).__name__}")


_ACCURACY_FOR_LOSS = {
    "SparseCategoricalCrossentropy": "sparse_categorical_accuracy",
    "sparse_categorical_crossentropy": "sparse_categorical_accuracy",
    "CategoricalCrossentropy": "categorical_accuracy",
    "categorical_crossentropy": "categorical_accuracy",
    "BinaryCrossentropy": "binary_accuracy",
    "binary_crossentropy": "binary_accuracy",
}


def resolve_metric(metric, loss):
    """A metric object; "accuracy"/"acc" become the accuracy that fits the loss, as in compile()."""
    if not isinstance(metric, str):
        return metric
    if metric in ("accuracy", "acc"):
        key = loss if isinstance(loss, str) else type(loss).__name__
        if key not in _ACCURACY_FOR_LOSS:
            raise ValueError(f"'accuracy' is ambiguous for loss {key}; pass a metric object or "
                             "one of sparse_categorical_accuracy, categorical_accuracy, binary_accuracy")
        return keras.metrics.get(_ACCURACY_FOR_LOSS[key])
    return keras.metrics.get(metric)


def _clone_metric(metric):
    return type(metric).from_config(metric.get_config())


class Trainer:
    """Train a Keras model with a custom, compiled loop.

    Args:
        model: a ``keras.Model``, or a zero-argument callable that builds one. Pass a callable to let
            the Trainer build it under the strategy scope and the precision policy.
        loss: a Keras loss (object or name) or a callable ``(y_true, y_pred) -> per-example loss``;
            ``None`` for subclasses whose ``train_step`` computes its own losses (GANs, CD-k).
        optimizer: a Keras optimizer or its name. Clip gradients with the optimizer's own
            ``clipnorm``/``global_clipnorm``.
        metrics: Keras metrics (objects or names).
        strategy: ``None``/"default", "mirrored", "multi_worker", "tpu" or a ``tf.distribute.Strategy``.
        jit_compile: "auto" (on CPU: time ``jit_trial_steps`` steps with and without XLA, in two
            interleaved rounds on a zero batch, and keep the faster), True or False.
        precision: "auto" (bf16 on AMX CPUs/TPUs, fp16 on GPUs, else fp32) or a Keras policy name;
            only applied when ``model`` is a callable.
        steps_per_execution: train steps per graph call.
        checkpoint_dir: where to keep the last ``keep_checkpoints`` checkpoints (a temporary
            directory when ``None``, so rollback still works).
        log_dir: TensorBoard scalars, ``history.json`` and ``curves.png`` go here.
        max_rollbacks: rollbacks allowed before ``TrainingDivergedError``.
        blowup_factor: a loss above this multiple of the best (positive) epoch loss so far counts
            as a blow-up (``None`` turns the check off; non-finite losses and weights always count).
        verbose: 0 silent, 1 progress bar, 2 one line per epoch, "auto" (1 on a terminal, else 2).
    """

    def __init__(self, model, loss, optimizer="adam", metrics=(), *, strategy=None,
                 jit_compile="auto", precision="auto", steps_per_execution=1, checkpoint_dir=None,
                 keep_checkpoints=3, log_dir=None, max_rollbacks=3, blowup_factor=10.0,
                 jit_trial_steps=5, verbose="auto"):
        if jit_compile not in JIT_POLICIES:
            raise ValueError(f"jit_compile must be one of {JIT_POLICIES}, got {jit_compile!r}")
        if int(steps_per_execution) < 1:
            raise ValueError(f"steps_per_execution must be >= 1, got {steps_per_execution}")
        self.strategy = resolve_strategy(strategy)
        self.role = worker_role(self.strategy)
        # ParameterServerStrategy: this process coordinates; workers run the scheduled steps.
        self.coordinator = (tf.distribute.coordinator.ClusterCoordinator(self.strategy)
                            if isinstance(self.strategy, tf.distribute.ParameterServerStrategy)
                            else None)
        self.jit_policy = jit_compile
        self.jit_compile = None  # decided on the first fit/evaluate
        self.jit_trial_ms: dict = {}
        self.steps_per_execution = int(steps_per_execution)
        self.jit_trial_steps = jit_trial_steps
        self.loss_fn = None if loss is None else per_example_loss(loss)
        self.max_rollbacks, self.blowup_factor = max_rollbacks, blowup_factor
        self.rollbacks = 0
        self.epoch_seconds: list[float] = []  # training time of each epoch (no eval/checkpoint)
        self.verbose = (1 if sys.stdout.isatty() else 2) if verbose == "auto" else verbose
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None  # temp: in fit
        self.keep_checkpoints = keep_checkpoints
        self.history = History(self.own_dir(log_dir))

        with self.strategy.scope():
            if isinstance(model, keras.Model):
                self.model = model
            elif callable(model):
                with precision_scope(resolve_precision(precision)):
                    self.model = model()
            else:
                raise TypeError(f"model must be a keras.Model or a callable building one, "
                                f"not {type(model).__name__}")
            self.precision = self.model.dtype_policy.name
            self.optimizer = self.make_optimizer(optimizer, self.optimized_variables())
            named = [resolve_metric(m, loss) for m in metrics]
            self.train_metrics = [keras.metrics.Mean(name="loss"), *named]
            self.eval_metrics = [_clone_metric(m) for m in self.train_metrics]
        self._epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self._train_fn = None
        self._eval_fn = None
        self._cleanup = None

    def own_dir(self, directory):
        """Where this process writes: ``directory`` itself for the chief, a ``worker<i>``
        subfolder for the other workers of a multi-worker cluster (they save too, as
        ``tf.distribute`` requires, but only the chief's files are the run's)."""
        if directory is None or self.role.is_chief:
            return directory
        return Path(directory) / f"worker{self.role.index}"

    # ------------------------------------------------------------ hooks for subclasses
    def make_optimizer(self, optimizer, variables):
        """A Keras optimizer (object or name) built for ``variables``; loss-scaled under fp16.
        Call inside ``self.strategy.scope()``. An optimizer made outside that scope is remade
        inside it from its config (Keras ties an optimizer to the strategy current at creation)."""
        optimizer = keras.optimizers.get(optimizer)
        if getattr(optimizer, "_distribution_strategy", self.strategy) is not self.strategy:
            if optimizer.built:
                raise ValueError(f"optimizer {optimizer.name!r} is already built under another "
                                 "tf.distribute strategy; pass a fresh one or its name")
            optimizer = type(optimizer).from_config(optimizer.get_config())
        if self.precision == "mixed_float16" and not isinstance(
                optimizer, keras.optimizers.LossScaleOptimizer):
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        optimizer.build(variables)
        return optimizer

    def optimized_variables(self) -> list:
        """The variables ``self.optimizer`` updates (a GAN trainer: the discriminator's)."""
        return self.model.trainable_variables

    @property
    def optimizers(self) -> dict:
        """Every optimizer, by checkpoint name (subclasses with several add theirs)."""
        return {"optimizer": self.optimizer}

    @property
    def extra_state(self) -> dict:
        """Further trackables (with ``.variables``) that training changes and that checkpoints,
        rollbacks and the XLA trial must save and restore, by name (PCD's persistent chains)."""
        return {}

    @property
    def data_inputs(self) -> list:
        """The Keras inputs the data's first element must match (a GAN trainer: the
        discriminator's, as its model's own input is noise)."""
        return self.model.inputs

    # ----------------------------------------------------------------------------- steps
    def compute_loss(self, y, y_pred):
        """Per-example losses as float32, plus the model's own ``add_loss`` terms (a VAE's KL,
        weight penalties) from its latest call."""
        per_example = tf.cast(self.loss_fn(y, tf.cast(y_pred, tf.float32)), tf.float32)
        if self.model.losses:
            per_example += tf.add_n([tf.cast(l, tf.float32) for l in self.model.losses])
        return per_example

    def forward(self, x, training):
        """The model's predictions in the train and eval steps (a one-shot supernet: one path)."""
        return self.model(x, training=training)

    def train_step(self, batch):
        """One optimisation step on one replica's batch; returns the replica's mean loss."""
        return self.supervised_step(batch[0], batch[1], self.train_metrics)

    def supervised_step(self, x, y, metrics):
        """``self.optimizer`` steps ``optimized_variables()`` down the mean loss of
        ``forward(x)`` against ``y``; updates ``metrics``; returns the replica's mean loss."""
        variables = self.optimized_variables()
        with tf.GradientTape() as tape:
            y_pred = self.forward(x, training=True)
            per_example = self.compute_loss(y, y_pred)
            loss = tf.reduce_mean(per_example)
            # The optimizer sums gradients over replicas: scale for a global mean.
            scaled = self.optimizer.scale_loss(loss / self.strategy.num_replicas_in_sync)
        grads = tape.gradient(scaled, variables)
        self.optimizer.apply_gradients(zip(grads, variables))
        self._update_metrics(metrics, per_example, y, y_pred)
        return loss

    def eval_step(self, batch):
        x, y = batch[0], batch[1]
        y_pred = self.forward(x, training=False)
        self._update_metrics(self.eval_metrics, self.compute_loss(y, y_pred), y, y_pred)

    @staticmethod
    def _update_metrics(metrics, per_example, y, y_pred):
        metrics[0].update_state(per_example)
        for metric in metrics[1:]:
            metric.update_state(y, y_pred)

    # ------------------------------------------------------------------- compiled functions
    def _make_train_function(self, jit: bool):
        step = tf.function(self.train_step, jit_compile=jit, reduce_retracing=True)
        strategy = self.strategy
        variables = [v for v in self.model.variables  # incl. BN statistics, not RNG states
                     if "float" in str(v.dtype)]

        @tf.function
        def train_n(iterator, n):
            total = tf.constant(0.0)
            for _ in tf.range(n):
                losses = strategy.run(step, args=(next(iterator),))
                total += strategy.reduce(tf.distribute.ReduceOp.MEAN, losses, axis=None)
            weights_finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(v)) for v in variables])
            return total / tf.cast(n, tf.float32), weights_finite

        return train_n

    def _choose_jit(self, element_spec) -> bool:
        """Apply the XLA policy; on CPU under "auto", time both and keep the faster.

        The trial runs on a zero batch shaped like ``element_spec``: it leaves the model, the
        optimizer, the metrics and the data pipeline (and so an exact resume) as they were.
        """
        if self.jit_policy in (True, False):
            return self.jit_policy
        if tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("TPU"):
            return True
        if self.role.multi_worker:  # workers' timings differ; all must choose alike
            return False
        batch = tf.nest.map_structure(
            lambda spec: tf.zeros([32 if d is None else d for d in spec.shape], spec.dtype),
            element_spec)
        iterator = iter(self._distribute(tf.data.Dataset.from_tensors(batch).repeat()))
        state = self.model.variables + [v for o in {**self.optimizers, **self.extra_state}.values()
                                        for v in o.variables]
        snapshot = [v.numpy() for v in state]
        functions = {}
        for jit in (False, True):
            functions[jit] = fn = self._make_train_function(jit)
            try:
                fn(iterator, tf.constant(1))[0].numpy()  # trace + compile
            except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError) as err:
                print(f"kerasdl: XLA cannot compile this train step ({type(err).__name__}); "
                      "running without XLA", file=sys.stderr)
                del functions[jit]
                break
        # Two interleaved rounds, the best of each side: a one-shot timing on a shared machine
        # picked either side for an MLP whose two steps cost the same (benchmarks/README.md).
        n = max(1, -(-self.jit_trial_steps // 2))
        for _ in range(2):
            for jit, fn in functions.items():
                start = time.perf_counter()
                fn(iterator, tf.constant(n))[0].numpy()
                ms = 1000 * (time.perf_counter() - start) / n
                self.jit_trial_ms[jit] = min(self.jit_trial_ms.get(jit, math.inf), ms)
        for v, value in zip(state, snapshot):
            v.assign(value)
        for m in self.train_metrics:
            m.reset_state()
        chosen = self.jit_trial_ms.get(True, math.inf) < self.jit_trial_ms[False]
        self._train_fn = functions[chosen]
        return chosen

    # ------------------------------------------------------------------------------ data
    @staticmethod
    def _probe(data) -> tf.data.Dataset:
        """The plain dataset behind ``data`` (a Dataset or ``fn(InputContext) -> Dataset``)."""
        if isinstance(data, tf.data.Dataset):
            return data
        if callable(data):
            return data(tf.distribute.InputContext())
        raise TypeError("data must be a tf.data.Dataset or a function InputContext -> Dataset, "
                        f"not {type(data).__name__} (see kerasdl.data.pipelines.from_arrays)")

    def _distribute(self, data):
        if self.coordinator is not None:  # each worker builds and iterates its own pipeline
            if not callable(data):
                raise ValueError("under ParameterServerStrategy pass the data as a function "
                                 "InputContext -> Dataset (e.g. lambda ctx: from_arrays(..., "
                                 "input_context=ctx)): a dataset made here cannot move to workers")
            return self.coordinator.create_per_worker_dataset(
                self.strategy.distribute_datasets_from_function(data))
        if isinstance(data, tf.data.Dataset):
            return self.strategy.experimental_distribute_dataset(data)
        return self.strategy.distribute_datasets_from_function(data)

    def _execute(self, iterator, n: int, remaining: int):
        """Run ``n`` train steps (under a parameter-server strategy: ``n`` on each of as many
        workers as ``remaining`` steps allow, asynchronously); returns (mean loss, weights
        finite, steps run)."""
        if self.coordinator is None:
            loss, finite = self._train_fn(iterator, tf.constant(n))
            return float(loss), bool(finite), n
        calls = max(1, min(self.role.worker_tasks, remaining // n))
        results = [self.coordinator.schedule(self._train_fn, args=(iterator, tf.constant(n)))
                   for _ in range(calls)]
        self.coordinator.join()
        values = [r.fetch() for r in results]
        return (sum(float(v[0]) for v in values) / calls, all(bool(v[1]) for v in values),
                n * calls)

    def _check_inputs(self, dataset):
        spec = dataset.element_spec
        if not isinstance(spec, (tuple, list)) or len(spec) < 2:
            raise ValueError(f"Datasets must yield (inputs, targets) pairs; got element_spec {spec}")
        given = tf.nest.flatten(spec[0])  # one spec per model input (a tuple for multi-input)
        inputs = self.data_inputs
        if len(given) != len(inputs):
            raise ValueError(f"Model {self.model.name!r} takes {len(inputs)} inputs but "
                             f"the data yields {len(given)}: {spec[0]}")
        for tensor, got_spec in zip(inputs, given):
            expected, got = tuple(tensor.shape)[1:], tuple(got_spec.shape)[1:]
            if len(expected) != len(got) or any(e is not None and g is not None and e != g
                                                for e, g in zip(expected, got)):
                raise ValueError(f"Model {self.model.name!r} expects inputs of shape (batch, "
                                 f"{', '.join(map(str, expected))}) but the data yields "
                                 f"{got_spec.shape}")

    # ----------------------------------------------------------------------------- loops
    def fit(self, train_data, *, epochs=1, steps_per_epoch=None, validation_data=None,
            callbacks=(), resume=False) -> History:
        """Train for ``epochs``; with ``resume=True`` continue from the last checkpoint exactly.

        ``callbacks``: functions ``fn(epoch, trainer) -> dict | None`` run at each epoch's end
        (``epoch`` counts from 1), after validation; their dicts join the epoch's logs (FID of a
        generator, a sample grid written, ...).
        """
        probe = self._probe(train_data)
        self._check_inputs(probe)
        cardinality = int(probe.cardinality())
        if steps_per_epoch is None:
            if cardinality <= 0:
                raise ValueError("The training data has unknown, infinite or zero length "
                                 f"(cardinality {cardinality}); pass steps_per_epoch")
            steps_per_epoch = cardinality
        repeated = (lambda ctx: train_data(ctx).repeat()) if callable(train_data) else \
            train_data.repeat()
        dist = self._distribute(repeated)
        iterator = iter(dist)

        # Distributed iterators (MirroredStrategy & co.) cannot be checkpointed: a resumed run
        # then restarts the data order, so it is exact only under the default strategy.
        data_state = ({"iterator": iterator}
                      if isinstance(iterator, tf.__internal__.tracking.Trackable) else {})
        if self.checkpoint_dir is None:
            self.checkpoint_dir = Path(tempfile.mkdtemp(prefix="kerasdl-ckpt-"))
            self._cleanup = weakref.finalize(self, shutil.rmtree, self.checkpoint_dir, True)
        state = tf.train.Checkpoint(model=self.model, epoch=self._epoch, rng=self._rng_states(),
                                    **self.optimizers, **self.extra_state, **data_state)
        self._weights = tf.train.Checkpoint(model=self.model, **self.optimizers, **self.extra_state)
        self._manager = tf.train.CheckpointManager(state, str(self.own_dir(self.checkpoint_dir)),
                                                   max_to_keep=self.keep_checkpoints)
        saved = self._saved_checkpoints() if resume else []
        if saved:
            self._restore_newest_readable(state, saved)
            self.history.load()
            self.history.truncate(int(self._epoch.numpy()))
        else:
            self._epoch.assign(0)
            self.history.epochs.clear()
            self._manager.save(checkpoint_number=0)

        if self.jit_compile is None:
            self.jit_compile = self._choose_jit(probe.element_spec)
        if self._train_fn is None:
            self._train_fn = self._make_train_function(self.jit_compile)

        best = min((e["loss"] for e in self.history.epochs if math.isfinite(e.get("loss", math.nan))),
                   default=math.inf)
        for epoch in range(int(self._epoch.numpy()), epochs):
            for m in self.train_metrics:
                m.reset_state()
            bar = keras.utils.Progbar(steps_per_epoch, verbose=self.verbose,
                                      stateful_metrics=[m.name for m in self.train_metrics])
            if self.verbose:
                print(f"Epoch {epoch + 1}/{epochs}")
            done, healthy, start = 0, 0, time.perf_counter()
            while done < steps_per_epoch:
                n = min(self.steps_per_execution, steps_per_epoch - done)
                loss, weights_finite, ran = self._execute(iterator, n, steps_per_epoch - done)
                done += ran
                blowup = (self.blowup_factor is not None and 0 < best < math.inf
                          and loss > self.blowup_factor * best)
                if not (math.isfinite(loss) and weights_finite) or blowup:
                    self._rollback(loss)  # also restarts the epoch's metrics
                    healthy = 0
                    continue
                healthy += ran
                bar.update(done, [(m.name, float(m.result())) for m in self.train_metrics])
            self.epoch_seconds.append(time.perf_counter() - start)
            # Train metrics cover the steps since the last rollback (none: NaN).
            logs = {m.name: float(m.result()) if healthy else math.nan for m in self.train_metrics}
            if validation_data is not None:
                logs.update({f"val_{k}": v for k, v in self.evaluate(validation_data).items()})
            for callback in callbacks:
                logs.update(callback(epoch + 1, self) or {})
            if self.verbose:
                print("  " + " - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
            if healthy and "loss" in logs:
                best = min(best, logs["loss"])
            # The history first: a crash between the two leaves it one epoch ahead of the
            # checkpoint, which a resume truncates, never one behind (a gap).
            self.history.log(epoch + 1, logs)
            self.history.save()
            self._epoch.assign(epoch + 1)
            self._manager.save(checkpoint_number=epoch + 1)
        return self.history

    def _saved_checkpoints(self) -> list[str]:
        """The chief's checkpoints, newest first: every worker of a cluster resumes from them,
        so all restart in step."""
        try:
            saved = tf.train.get_checkpoint_state(str(self.checkpoint_dir))
        except (tf.errors.OpError, ValueError) as err:  # a damaged "checkpoint" index file
            raise ValueError(f"cannot read {self.checkpoint_dir / 'checkpoint'} ({err}); delete "
                             "it (the checkpoints stay) or the folder to start afresh") from None
        return list(reversed(saved.all_model_checkpoint_paths)) if saved else []

    @staticmethod
    def _restore_newest_readable(state, paths) -> str:
        """Restore the newest of ``paths`` that reads back whole; a truncated or corrupt one (a
        crash or a full disk mid-write) is reported and skipped."""
        for path in paths:
            try:
                state.restore(path).assert_existing_objects_matched()
                return path
            except (tf.errors.OpError, ValueError, AssertionError, IndexError) as err:  # IndexError: truncated
                print(f"kerasdl: checkpoint {path} is unreadable ({type(err).__name__}: "
                      f"{str(err).splitlines()[0][:200]}); trying the one before", file=sys.stderr)
        raise ValueError(f"no readable checkpoint among {', '.join(paths)}: delete them to start "
                         "afresh")

    def _rng_states(self) -> list:
        """Dropout & co. draw from Keras seed generators, whose state variables the model's own
        checkpoint dependencies leave out; saving them makes a resumed run match exactly."""
        return [v.value for v in self.model.non_trainable_variables
                if v.path.endswith("seed_generator_state")]

    def _rollback(self, loss: float) -> None:
        self.rollbacks += 1
        if self.rollbacks > self.max_rollbacks:
            raise TrainingDivergedError(
                f"loss {loss} after {self.max_rollbacks} rollbacks; lower the learning rate or "
                "check the data for NaN/inf")
        self._weights.restore(self._manager.latest_checkpoint).expect_partial()
        for m in self.train_metrics:
            m.reset_state()
        print(f"kerasdl: non-finite or exploding loss ({loss}); rolled back to "
              f"{self._manager.latest_checkpoint} ({self.rollbacks}/{self.max_rollbacks})",
              file=sys.stderr)

    def evaluate(self, data) -> dict:
        """Loss and metrics over a finite dataset."""
        self._check_inputs(self._probe(data))
        # A parameter-server coordinator evaluates inline (its variables live on the PS).
        dist = self._probe(data) if self.coordinator else self._distribute(data)
        if self._eval_fn is None:
            jit = self.jit_compile if self.jit_compile is not None else self.jit_policy is True
            step = tf.function(self.eval_step, jit_compile=jit, reduce_retracing=True)

            @tf.function
            def eval_batch(batch):
                if self.coordinator:
                    step(batch)
                else:
                    self.strategy.run(step, args=(batch,))

            self._eval_fn = eval_batch
        for m in self.eval_metrics:
            m.reset_state()
        batches = 0
        for batch in dist:
            self._eval_fn(batch)
            batches += 1
        if batches == 0:
            raise ValueError("The evaluation data is empty")
        return {m.name: float(m.result()) for m in self.eval_metrics}

    @property
    def policy(self) -> dict:
        """What the Trainer runs with: precision, XLA choice (and trial timings), replicas."""
        return {"precision": self.precision, "jit_compile": self.jit_compile,
                "jit_policy": self.jit_policy,
                "jit_trial_ms_per_step": {("xla" if k else "no_xla"): round(v, 2)
                                          for k, v in self.jit_trial_ms.items()},
                "steps_per_execution": self.steps_per_execution,
                "strategy": type(self.strategy).__name__,
                "replicas": self.strategy.num_replicas_in_sync}

    def close(self) -> None:
        """Remove the temporary checkpoint directory, if the Trainer made one (also done when
        the Trainer is garbage-collected)."""
        if self._cleanup is not None:
            self._cleanup()
            self.checkpoint_dir = self._cleanup = None  # a later fit makes a fresh one

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

