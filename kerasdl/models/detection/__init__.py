"""Object detectors: SSD and YOLO v3 over kerasdl backbones (``kerasdl.detection`` holds the
box, anchor, NMS and mAP primitives)."""
from kerasdl.models.detection import ssd, yolo  # noqa: F401
from kerasdl.models.detection import faster_rcnn  # noqa: F401
