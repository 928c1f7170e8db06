"""Prototypical Networks: the loss against the paper's class-softmax computed independently, the
leave-one-out batch loss, the episode sampler, batched support-set baselines, and episodic
training on real digits with disjoint meta-train/meta-test classes."""
import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasdl
from kerasdl.data.episodes import few_shot_episodes
from kerasdl.meta import (PrototypicalTrainer, class_prototypes, episode_accuracy,
                          fit_linear_heads, linear_head_accuracy, prototypical_loss,
                          squared_distances)
from kerasdl.meta.prototypical import leave_one_out_loss


def class_softmax_reference(support, ys, query, yq):
    """Snell et al. eq. 1-2 in numpy: c_k = mean of class k's support embeddings,
    p(y = k | x) = softmax_k(−‖x − c_k‖²); returns −log p(y_true) and argmax correctness."""
    classes = np.unique(ys)
    protos = np.stack([support[ys == k].mean(0) for k in classes])
    logits = -((query[:, None, :] - protos[None]) ** 2).sum(-1)
    log_p = logits - np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1, keepdims=True)) \
        - logits.max(1, keepdims=True)
    target = np.searchsorted(classes, yq)
    return -log_p[np.arange(len(yq)), target], (classes[logits.argmax(1)] == yq).astype(float)


def test_loss_equals_the_papers_softmax_over_class_prototypes():
    rng = np.random.default_rng(0)
    ys = np.array([7, 2, 2, 9, 9, 9, 7, 2])  # uneven shots, arbitrary label values
    support, query = rng.normal(size=(8, 5)), rng.normal(size=(6, 5))
    yq = np.array([2, 9, 7, 7, 2, 9])
    loss, correct = prototypical_loss(support.astype("float32"), ys, query.astype("float32"), yq)
    ref_loss, ref_correct = class_softmax_reference(support, ys, query, yq)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(correct, ref_correct)
    # the nearest prototype wins whatever the class sizes: a 3-shot class at squared distance 1
    # beats a 1-shot class at 1.5 (column logits −1 − log 3 < −1.5 must not decide)
    support_1d = np.array([[1.0], [1.0], [1.0], [-np.sqrt(1.5)]], "float32")
    near = prototypical_loss(support_1d, np.array([0, 0, 0, 1]), np.zeros((1, 1), "float32"),
                             np.array([0]))[1]
    np.testing.assert_array_equal(near, [1.0])
    np.testing.assert_allclose(squared_distances(query, support),
                               ((query[:, None] - support[None]) ** 2).sum(-1), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(class_prototypes(support, np.searchsorted([2, 7, 9], ys), 3),
                               [support[ys == k].mean(0) for k in (2, 7, 9)], atol=1e-6)


def test_leave_one_out_loss_matches_brute_force():
    rng = np.random.default_rng(1)
    e, y = rng.normal(size=(9, 4)), np.array([0, 0, 1, 1, 1, 2, 3, 3, 0])  # class 2 is alone
    expected = []
    for i in range(len(y)):
        rest = np.arange(len(y)) != i
        if not (y[rest] == y[i]).any():
            expected.append(0.0)
            continue
        expected.append(class_softmax_reference(e[rest], y[rest], e[i:i + 1], y[i:i + 1])[0][0])
    np.testing.assert_allclose(leave_one_out_loss(e.astype("float32"), y), expected, rtol=1e-5,
                               atol=1e-5)


def index_episodes(y, **kwargs):
    """Episodes whose 'images' are the examples' indices, to see what was drawn."""
    return few_shot_episodes(np.arange(len(y), dtype="float32")[:, None], y, **kwargs)


def test_episodes_draw_disjoint_examples_of_distinct_classes_and_are_stateless(digits_arrays):
    (x, y), _ = digits_arrays
    kwargs = dict(ways=4, shots=3, queries=2, classes=[1, 3, 5, 7, 9], seed=5, num_episodes=6)
    seen_classes = set()
    for (xs, xq), (ys, yq) in index_episodes(y, **kwargs):
        s, q = xs.numpy()[:, 0].astype(int), xq.numpy()[:, 0].astype(int)
        assert len(set(s) | set(q)) == 4 * 5  # no example twice in an episode
        np.testing.assert_array_equal(ys, np.repeat(np.arange(4), 3))
        np.testing.assert_array_equal(yq, np.repeat(np.arange(4), 2))
        drawn = y[s].reshape(4, 3)
        assert (drawn == drawn[:, :1]).all() and len(set(drawn[:, 0])) == 4
        np.testing.assert_array_equal(y[q].reshape(4, 2), drawn[:, :2])
        seen_classes |= set(drawn[:, 0])
    assert seen_classes <= {1, 3, 5, 7, 9} and len(seen_classes) == 5
    first = next(iter(few_shot_episodes(x, y, **kwargs)))
    (xs, _), _ = first
    (idx, _), _ = next(iter(index_episodes(y, **kwargs)))
    np.testing.assert_array_equal(xs, x[idx.numpy()[:, 0].astype(int)])  # same draw, any features
    other = next(iter(index_episodes(y, **{**kwargs, "seed": 6})))[0][0]
    assert not np.array_equal(idx, other)


def test_episode_sampler_rejects_bad_requests(digits_arrays):
    (x, y), _ = digits_arrays
    with pytest.raises(ValueError, match="6-way episodes need 6 classes, only 5"):
        few_shot_episodes(x, y, ways=6, shots=1, queries=1, classes=[0, 1, 2, 3, 4])
    with pytest.raises(ValueError, match=r"classes \[0, 1\] have fewer than shots \+ queries = 400"):
        few_shot_episodes(x, y, ways=2, shots=200, queries=200, classes=[0, 1])
    with pytest.raises(ValueError, match=r"classes \[42\] have no examples"):
        few_shot_episodes(x, y, ways=1, shots=1, queries=1, classes=[42])


def test_batched_linear_heads_train_each_episode_independently(digits_arrays):
    (x, y), _ = digits_arrays
    data = few_shot_episodes(x.reshape(len(x), -1), y, ways=5, shots=3, queries=10, seed=2,
                             num_episodes=4).batch(4)
    (xs, xq), (ys, yq) = next(iter(data))
    together = fit_linear_heads(xs, ys, 5, steps=30)
    alone = fit_linear_heads(xs[2:3], ys[2:3], 5, steps=30)
    np.testing.assert_allclose(together[0][2:3], alone[0], rtol=1e-4, atol=1e-6)
    accuracy = linear_head_accuracy(xq, yq, together)
    assert accuracy.shape == (4,) and accuracy.mean() > 0.6  # real 8x8 digits, chance 0.2
    per_episode = [float(tf.reduce_mean(prototypical_loss(xs[i], ys[i], xq[i], yq[i])[1]))
                   for i in range(4)]
    np.testing.assert_allclose(episode_accuracy(xs, ys, xq, yq), per_episode, rtol=1e-6)


def test_episodic_training_generalises_to_held_out_images(digits_arrays):
    """Episodes of real 8x8 digits through the Trainer; scored on episodes of the held-out images.
    (Transfer to unseen classes needs many meta-train classes: pipelines/protonet_digits.py.)"""
    (x, y), (xt, yt) = digits_arrays
    embedding = kerasdl.create_model("conv4", input_shape=(8, 8, 1), filters=16, blocks=2)
    trainer = PrototypicalTrainer(embedding, keras.optimizers.Adam(1e-3), jit_compile=False,
                                  steps_per_execution=10, verbose=0)
    test = few_shot_episodes(xt, yt, ways=5, shots=1, queries=5, seed=1, num_episodes=30)
    before = trainer.evaluate(test)
    trainer.fit(few_shot_episodes(x, y, ways=10, shots=5, queries=5), epochs=1, steps_per_epoch=60)
    after = trainer.evaluate(test)
    assert after["loss"] < 0.8 * before["loss"] and after["accuracy"] > before["accuracy"] + 0.05, \
        (before, after)
    trainer.close()
