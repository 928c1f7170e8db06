"""Data layer: real datasets from package registries (:mod:`.sources`), registered loaders
(:mod:`.datasets`) and tf.data pipelines (:mod:`.pipelines`).

``import kerasdl.data`` does not import TensorFlow; the loader and pipeline names load on first use.
"""
from kerasdl.data.sources import DataFetchError, DataFileError, cache_dir, fetch  # noqa: F401
from kerasdl.lazy import lazy_exports

_EXPORTS = {
    **dict.fromkeys(("dataset_info", "stratified_split"), "kerasdl.data.datasets"),
    **dict.fromkeys(("from_arrays", "make_pipeline"), "kerasdl.data.pipelines"),
}
__all__ = ["DataFetchError", "DataFileError", "cache_dir", "fetch", *_EXPORTS]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
