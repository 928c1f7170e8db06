"""StarDist nuclei: boxes against a per-instance numpy scan, a disjoint spatial split, and crops
that keep image and mask aligned."""
import numpy as np
import pytest

from kerasdl.data import nuclei as N


def test_full_image_has_125_instances_and_regionprops_boxes():
    _, labels = N._raw_2d()
    ids, boxes = N.instance_boxes(labels)
    assert len(ids) == 125 and labels.shape == (512, 512)
    for i, box in zip(ids, boxes):
        rows, cols = np.nonzero(labels == i)
        np.testing.assert_array_equal(box, [rows.min(), cols.min(), rows.max() + 1, cols.max() + 1])


def test_regions_are_disjoint_and_cover_the_image():
    train, test = N.nuclei("train"), N.nuclei("test")
    _, labels = N._raw_2d()
    assert train.image.shape == (512, 384) and test.image.shape == (512, 128)
    np.testing.assert_array_equal(np.concatenate([train.labels, test.labels], 1), labels)
    np.testing.assert_array_equal(train.mask, labels[:, :384] > 0)
    # intensities scaled by the training region's own percentiles only
    low, high = np.percentile(train.image, N.PERCENTILES)
    np.testing.assert_allclose([low, high], [0, 1], atol=1e-5)


def test_held_out_tiles_are_the_disjoint_grid_of_the_test_region():
    images, masks = N.held_out_tiles()
    test = N.nuclei("test")
    assert images.shape == (4, 128, 128, 1) and masks.dtype == np.int32
    np.testing.assert_array_equal(np.concatenate(list(images[..., 0]), 0), test.image)
    np.testing.assert_array_equal(np.concatenate(list(masks), 0), test.mask)


def test_bad_inputs_name_the_problem():
    with pytest.raises(ValueError, match="split"):
        N.nuclei("validation")
    with pytest.raises(ValueError, match="2-D integer"):
        N.instance_boxes(np.zeros((2, 2, 2), int))
    with pytest.raises(ValueError, match="does not fit"):
        N.disjoint_tiles(np.zeros((4, 4)), 8)
    with pytest.raises(ValueError, match="does not match"):
        N.joint_crops(np.zeros((8, 8)), np.zeros((8, 9), int), 2, 4)


def test_joint_crops_keep_image_and_mask_aligned_and_checkpoint(tmp_path):
    import tensorflow as tf

    rng = np.random.default_rng(0)
    image = rng.random((12, 10)).astype("float32")
    labels = rng.integers(0, 100, (12, 10))
    iterator = iter(N.joint_crops(image, labels, 16, 6, seed=3))
    tf.train.Checkpoint(iterator=iterator).save(str(tmp_path / "ckpt"))  # the Trainer does this
    batch_images, batch_masks = next(iterator)
    windows = set()
    for crop, mask in zip(batch_images.numpy()[..., 0], batch_masks.numpy()):
        found = [(flip, y, x) for flip in range(4) for y in range(7) for x in range(5)
                 if np.array_equal(_flip(image, flip)[y:y + 6, x:x + 6], crop)
                 and np.array_equal(_flip(labels, flip)[y:y + 6, x:x + 6], mask)]
        assert found, "crop is not one window of the (flipped) image with its own labels"
        windows.add(found[0])
    assert len(windows) > 4  # the crops and flips vary


def _flip(a, code):
    return a[::-1 if code & 1 else 1, ::-1 if code & 2 else 1]
