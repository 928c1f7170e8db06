"""Graph models. Their inputs follow :mod:`kerasdl.layers.graph` (padded batches of edge lists):
node classifiers (GCN, ChebNet, GAT, GraphSAGE), a graph classifier (GIN), knowledge-graph link
prediction (DistMult, R-GCN) and PinSage recommendation."""
from kerasdl.models.graph import (  # noqa: F401
    graph_classifier, knowledge_graph, node_classifiers, pinsage)
