"""The guideline engine: from an assessed patient to an ordered, cited, explained management plan.

The rules live in one module per clinical area, run in the order of ``engine.AREAS``. Clinical
texts, thresholds and citations are YAML in ``spinemets/knowledge/rules``; the logic here only decides *which* recommendation applies and *why*.
"""

from spinemets.rules.content import load_content
from spinemets.rules.engine import build_plan, registry
from spinemets.rules.model import Category, Certainty, Kind, Plan, Recommendation, ScheduledItem, Urgency


def ruleset_version() -> str:
    """Version of the rule set (texts, thresholds, citations) printed in every plan."""
    return load_content().version


__all__ = [
    "Category",
    "Certainty",
    "Kind",
    "Plan",
    "Recommendation",
    "ScheduledItem",
    "Urgency",
    "build_plan",
    "registry",
    "ruleset_version",
]
