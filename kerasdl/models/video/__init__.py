"""Video classifiers over clips [B, T, H, W, C] (see docs/video.md).

All thirteen are registered, deployable (TFLite built-ins, CONV_3D included) and in the shared
contract at 4 frames of 16x16.
"""
from kerasdl.models.video import conv3d, fusion, temporal, tsm  # noqa: F401
