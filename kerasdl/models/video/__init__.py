"""Video classifiers over clips [B, T, H, W, C] (see docs/video.md).

All thirteen are registered and deployable (TFLite built-ins, CONV_3D included). To keep the
project's default test run in its time budget, the shared contract runs by default for c3d, tsm
and two_stream (Conv3D, the temporal shift, a two-input-stream graph); the other ten are marked
``heavy`` (their contract runs with ``-m slow``).
"""
from kerasdl.models.video import conv3d, fusion, temporal, tsm  # noqa: F401
