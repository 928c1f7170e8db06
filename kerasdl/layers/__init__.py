"""Reusable subclassed Keras layers, grouped by kind (conv.py, blocks.py, attention.py, ...)."""
from kerasdl.layers.conv import ConvBNAct, GroupedConv2D
from kerasdl.layers.conv_reference import (conv2d_im2col, conv2d_naive, conv_output_size,
                                           effective_kernel_size, same_padding,
                                           transposed_conv_output_size)
from kerasdl.layers.deformable import DeformableConv2D, deformable_conv2d
from kerasdl.layers.gan import MinibatchDiscrimination, MinibatchStdDev, SelfAttention2D
from kerasdl.layers.graph import (ChebConv, GCNConv, GINConv, GraphReadout, MessagePassing,
                                  segment_pool)
from kerasdl.layers.graph_attention import GATConv
from kerasdl.layers.graph_sage import SAGEConv
from kerasdl.layers.hourglass import hourglass_block, residual_unit
from kerasdl.layers.masked import MaskedConv2D, MaskedDense
from kerasdl.layers.normalization import WeightNormalization, instance_norm
from kerasdl.layers.recurrent import (FusibleLSTM, GRUCell, LSTMCell, ReversePadded, SimpleRNNCell,
                                      padded_bidirectional, recurrent_param_count)
from kerasdl.layers.sampling import GaussianSampling, gaussian_kl, gaussian_sample
from kerasdl.layers.transformer import (PaddingMask, PositionalEncoding, TokenAndPositionEmbedding,
                                        TransformerDecoderBlock, TransformerEncoderBlock,
                                        causal_attention_mask, scaled_dot_product_attention,
                                        sinusoidal_positional_encoding)

__all__ = ["ChebConv", "ConvBNAct", "DeformableConv2D", "FusibleLSTM", "GATConv", "GCNConv",
           "GINConv", "GRUCell", "GaussianSampling", "GraphReadout", "GroupedConv2D", "LSTMCell",
           "MessagePassing", "SAGEConv", "segment_pool",
           "MaskedConv2D", "MaskedDense", "MinibatchDiscrimination", "MinibatchStdDev", "PaddingMask",
           "PositionalEncoding", "ReversePadded", "SelfAttention2D", "SimpleRNNCell",
           "TokenAndPositionEmbedding", "gaussian_kl", "gaussian_sample",
           "TransformerDecoderBlock", "TransformerEncoderBlock", "WeightNormalization",
           "causal_attention_mask", "conv2d_im2col", "conv2d_naive", "conv_output_size",
           "deformable_conv2d", "effective_kernel_size", "hourglass_block", "instance_norm",
           "padded_bidirectional", "recurrent_param_count", "residual_unit", "same_padding",
           "scaled_dot_product_attention", "sinusoidal_positional_encoding",
           "transposed_conv_output_size"]
