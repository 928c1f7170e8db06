"""Graphs in numpy: edge lists and padded batches (:mod:`.edges`), node features
(:mod:`.features`), Laplacians (:mod:`.laplacian`),
the graph Fourier transform and spectral filters (:mod:`.spectral`), and GraphSAGE neighbour
sampling (:mod:`.sampling`). No TensorFlow here; the Keras layers are in :mod:`kerasdl.layers.graph`.
"""
from kerasdl.graph.edges import (  # noqa: F401
    Graph, GraphBatch, adjacency_matrix, check_edges, edges_from_adjacency, pad_graphs, to_undirected)
from kerasdl.graph.features import degree_features, one_hot  # noqa: F401
from kerasdl.graph.laplacian import degrees, laplacian, scaled_laplacian  # noqa: F401
from kerasdl.graph.sampling import NeighborSampler  # noqa: F401
from kerasdl.graph.spectral import (  # noqa: F401
    chebyshev_filter, fourier_basis, graph_fourier_transform, inverse_graph_fourier_transform,
    polynomial_filter, spectral_filter)
