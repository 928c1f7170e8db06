"""Object detectors: SSD, YOLO v3, YOLO v1, Faster R-CNN and R-FCN over kerasdl backbones
(``kerasdl.detection`` holds the box, anchor, RoI, NMS and mAP primitives)."""
from kerasdl.models.detection import ssd, yolo  # noqa: F401
from kerasdl.models.detection import faster_rcnn, yolo_v1  # noqa: F401
