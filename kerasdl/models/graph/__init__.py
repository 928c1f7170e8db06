"""Graph neural networks: node classifiers (GCN, ChebNet, GAT, GraphSAGE) and a graph classifier
(GIN). Their inputs follow :mod:`kerasdl.layers.graph` (padded batches of edge lists)."""
from kerasdl.models.graph import graph_classifier, node_classifiers  # noqa: F401
