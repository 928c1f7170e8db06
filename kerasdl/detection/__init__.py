"""Detection primitives: box formats and IoU/GIoU (``boxes``), per-pixel anchors, labelling and
offset encoding (``anchors``), YOLO's parametrisation (``yolo``), NMS (``nms``), mAP
(``evaluation``), detector losses (``losses``) and the NMS-inside serving export (``export``)."""
