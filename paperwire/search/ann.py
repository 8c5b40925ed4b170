"""The one import of usearch.

Importing usearch (2.26) before onnxruntime (1.32) crashes the process with a segmentation
fault when onnxruntime loads (seen here: `import usearch.index; import onnxruntime`), while
the other order works. Every use of usearch goes through this module, which loads
onnxruntime first; tests/test_search.py keeps the order honest.
"""

import onnxruntime  # noqa: F401 - must be loaded before usearch
from usearch.index import Index

__all__ = ["Index"]
