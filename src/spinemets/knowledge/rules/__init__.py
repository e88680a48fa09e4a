"""Clinical content of the rule engine as reviewable YAML (texts, thresholds, citations)."""
