"""YAML parsing for the packaged knowledge and for user files, with libyaml's parser when present.

PyYAML's pure-Python safe loader takes tens of milliseconds for the histology table and the
bibliography; libyaml's (``CSafeLoader``, in the PyYAML wheels) parses the same documents to the same
plain values several times faster. Both are *safe* loaders: no Python objects are ever built.
"""

from __future__ import annotations

from typing import Any

import yaml

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
YAMLError = yaml.YAMLError
"""What a malformed document raises (callers turn it into a clear error naming the file)."""


def load_yaml(text: str) -> Any:
    """Plain values (dicts, lists, strings, numbers, booleans, None) from one YAML document."""
    return yaml.load(text, Loader=_LOADER)
