"""Semantic segmentation networks: images [B, H, W, C] -> per-pixel logits [B, H, W, classes]."""
from kerasdl.models.segmentation import deeplab, fcn, gcn, pspnet, refinenet, unet  # noqa: F401
