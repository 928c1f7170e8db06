"""Video classifiers over clips [B, T, H, W, C] (see docs/video.md)."""
