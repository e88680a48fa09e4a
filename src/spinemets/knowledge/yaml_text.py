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
    """A key given twice in one mapping raises :class:`DuplicateKeyError` (files people write by hand:
    with ``kps:`` twice, which one was meant?)."""

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise DuplicateKeyError(key, key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_NULL_TAG = "tag:yaml.org,2002:null"


class _TextScalarLoader(_UniqueKeyLoader):
    """Plain scalars stay text as written; only ``null``/``~``/an empty value is resolved (to None)."""


_TextScalarLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag == _NULL_TAG]
    for first, resolvers in _UniqueKeyLoader.yaml_implicit_resolvers.items()
}


def load_yaml_text_scalars(text: str) -> Any:
    """As :func:`load_yaml`, but a key given twice raises :class:`DuplicateKeyError` and every plain scalar
    except ``null`` is read as the text written.

    YAML 1.1 turns ``yes``/``no``/``on``/``off`` into booleans and ``01``/``010``/``1.0`` into numbers
    (``010`` is octal 8), so a registry code table ``{ja: yes, "01": breast}`` would silently become
    ``{ja: True, ...}``. A cohort mapping compares codes and values as text, so it is read as text.
    """
    return yaml.load(text, Loader=_TextScalarLoader)
