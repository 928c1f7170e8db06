"""PSPNet (Zhao et al., CVPR 2017): a dilated encoder at output stride 8, the pyramid pooling
module (bins 1, 2, 3, 6), a 3x3 conv, class scores, bilinear upsampling to the input. (The
paper's auxiliary stage-4 loss is a training aid and is not part of this inference graph.)"""
from __future__ import annotations

from kerasdl.models.base import FunctionalModel, register_model
from kerasdl.models.segmentation.common import (SMALL_BACKBONE, SMALL_INPUT, TAGS, TASK,
                                                backbone_features, pick)
from kerasdl.models.segmentation.context import atrous_stage, classifier, pyramid_pooling


@register_model("pspnet", tags=(*TAGS, "pspnet"), **TASK,
                small={"num_classes": 3, "input_shape": SMALL_INPUT, "filters": 16,
                       "backbone_kwargs": SMALL_BACKBONE},
                heavy=True)  # contract with -m slow; its pooling layer is tested directly
class PSPNet(FunctionalModel):
    """``backbone``'s stride-8 map -> a dilated (rate 2) residual stage of ``filters`` channels ->
    pyramid pooling over ``bins`` -> 3x3 conv -> logits at input size."""

    @staticmethod
    def build_graph(num_classes=21, input_shape=(473, 473, 3), backbone="resnet18",
                    backbone_kwargs=None, filters=512, bins=(1, 2, 3, 6), dropout=0.1):
        inputs, features = backbone_features(input_shape, backbone, backbone_kwargs)
        x = atrous_stage(pick(features, 8, backbone), filters, 2, name="dilated")
        x = pyramid_pooling(x, bins)
        return inputs, classifier(x, num_classes, filters // 4, input_shape[:2], dropout=dropout)
