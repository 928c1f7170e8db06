"""Video classifiers over clips [B, T, H, W, C] (see docs/video.md)."""
from kerasdl.models.video import conv3d, fusion, temporal, tsm  # noqa: F401
