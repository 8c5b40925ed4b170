"""The public interface of a package on a middle floor (search, ingest): the names the floors
above may use, loaded on first use (PEP 562), since Django imports app packages before their
models are ready."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable


def public_names(package: str, public: dict[str, str]) -> Callable[[str], object]:
    """The ``__getattr__`` of ``package``, whose ``public`` maps each name to its module."""

    def __getattr__(name: str) -> object:
        if name not in public:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{public[name]}"), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
