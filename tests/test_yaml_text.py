"""The one YAML loader gives the same plain values as PyYAML's pure-Python safe loader."""

from __future__ import annotations

from importlib import resources

import yaml

from spinemets.knowledge.yaml_text import load_yaml


def test_libyaml_and_pure_python_agree_on_every_packaged_document() -> None:
    root = resources.files("spinemets.knowledge")
    docs = [f for f in root.iterdir() if f.name.endswith(".yaml")]
    for folder in ("bibliography", "rules", "evidence"):
        docs += [f for f in root.joinpath(folder).iterdir() if f.name.endswith(".yaml")]
    assert len(docs) > 10
    for doc in docs:
        text = doc.read_text(encoding="utf-8")
        assert load_yaml(text) == yaml.safe_load(text), doc.name


def test_no_python_objects_are_ever_built() -> None:
    import pytest

    with pytest.raises(yaml.YAMLError):
        load_yaml("!!python/object/apply:os.system ['true']")
