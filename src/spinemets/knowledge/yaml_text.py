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


class DuplicateKeyError(yaml.constructor.ConstructorError):
    """A mapping names the same key twice (YAML keeps the last silently; a user file must not)."""

    def __init__(self, key: object, mark: Any) -> None:
        self.key = key
        super().__init__(None, None, f"the key {key!r} appears twice", mark)


class _UniqueKeyLoader(_LOADER):
    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise DuplicateKeyError(key, key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_yaml_unique_keys(text: str) -> Any:
    """As :func:`load_yaml`, but a key given twice in one mapping raises :class:`DuplicateKeyError`.

    For files people write by hand (a cohort mapping): with ``kps:`` twice, which one was meant?
    """
    return yaml.load(text, Loader=_UniqueKeyLoader)
