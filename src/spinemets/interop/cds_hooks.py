"""CDS Hooks 2.0: the service definitions, request and card models, and JWT authentication of the EHR.

Two services: ``spinemets-patient-view`` (hook ``patient-view``) and ``spinemets-order-select`` (hook
``order-select``). Both read the record from the prefetch (or, when a prefetch is missing, from the
EHR's FHIR server with the access token it sent), map it with :func:`spinemets.interop.fhir.map_bundle`
in reporting mode, call :func:`spinemets.assess` and turn the result into cards. Cards only translate
the assessment: the summary restates the scores, the indicator is the plan's most urgent urgency, the
source is the citation.

The EHR authenticates with a signed JWT in ``Authorization: Bearer`` (CDS Hooks 2.0, "Trusting CDS
Clients"): ``iss`` must be an allow-listed issuer, the signature must verify with that issuer's keys
(JWKS, JWKS URL or PEM; RS384/ES384 by default, never ``none`` or shared-secret HMAC), ``aud`` must be
the URL of the service endpoint called, ``exp`` must be in the future, ``iat`` not in the future, and
``jti`` must not have been seen before (replay; see :class:`ReplayCache`).

References:
    HL7 CDS Hooks 2.0 (STU2), https://cds-hooks.hl7.org/2.0/
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from spinemets.assessment import Assessment
from spinemets.errors import InvalidInputError, SpinemetsError
from spinemets.interop import fhir
from spinemets.knowledge.bibliography import Reference
from spinemets.rules.model import Recommendation

SUMMARY_MAX = 139
"""CDS Hooks 2.0 (Card attributes): the summary is a "<140-character" message, so at most 139."""

PATIENT_VIEW = "spinemets-patient-view"
ORDER_SELECT = "spinemets-order-select"

PREFETCH: dict[str, str] = {
    "patient": "Patient/{{context.patientId}}",
    "conditions": "Condition?patient={{context.patientId}}",
    "observations": "Observation?patient={{context.patientId}}",
    "procedures": "Procedure?patient={{context.patientId}}",
    "medications": "MedicationStatement?patient={{context.patientId}}",
}
"""Prefetch templates: the patient and every resource type the mapping reads (docs/fhir.md)."""


class CdsService(BaseModel):
    """One entry of the discovery response."""

    model_config = ConfigDict(frozen=True)
    hook: str
    title: str
    description: str
    id: str
    prefetch: dict[str, str]
    usageRequirements: str | None = None


SERVICES: dict[str, CdsService] = {
    PATIENT_VIEW: CdsService(
        hook="patient-view",
        id=PATIENT_VIEW,
        title="Spinal metastases: scores and plan",
        description=(
            "Scores the patient's spinal metastases (SINS, prognostic scores) from the record and shows the "
            "cited management plan, with the items still missing."
        ),
        prefetch=PREFETCH,
        usageRequirements="The record must code spinal-metastasis findings as described in docs/fhir.md.",
    ),
    ORDER_SELECT: CdsService(
        hook="order-select",
        id=ORDER_SELECT,
        title="Spinal metastases: scores and plan while ordering",
        description=(
            "While orders are selected for a patient with spinal metastases, shows the scores and the cited "
            "plan so that the order can be checked against them."
        ),
        prefetch=PREFETCH,
        usageRequirements="The record must code spinal-metastasis findings as described in docs/fhir.md.",
    ),
}

_REQUIRED_CONTEXT: dict[str, tuple[str, ...]] = {
    "patient-view": ("userId", "patientId"),
    "order-select": ("userId", "patientId", "selections", "draftOrders"),
}


_STRING_CONTEXT = ("userId", "patientId", "encounterId")
"""Context fields both hooks define as strings (CDS Hooks patient-view and order-select)."""


def discovery() -> dict[str, Any]:
    """The discovery document served at ``/cds-services``."""
    return {"services": [s.model_dump(exclude_none=True) for s in SERVICES.values()]}


# --- requests ------------------------------------------------------------------------------------------


class FhirAuthorization(BaseModel):
    model_config = ConfigDict(extra="allow")
    access_token: str
    token_type: str = "Bearer"
    expires_in: int | None = None
    scope: str | None = None
    subject: str | None = None


class HookRequest(BaseModel):
    """A CDS Hooks 2.0 call (the body the EHR POSTs to a service)."""

    model_config = ConfigDict(extra="allow")
    hook: str
    hookInstance: str
    fhirServer: str | None = None
    fhirAuthorization: FhirAuthorization | None = None
    context: dict[str, Any]
    prefetch: dict[str, Any] | None = None


OVERRIDE_SYSTEM = "https://spinemets.org/fhir/CodeSystem/override"
"""The code system of the override reasons the cards offer."""

OVERRIDE_REASONS = [
    {
        "code": "not-applicable",
        "system": OVERRIDE_SYSTEM,
        "display": "Not applicable to this patient",
    },
    {
        "code": "data-wrong",
        "system": OVERRIDE_SYSTEM,
        "display": "Record data are wrong or outdated",
    },
    {
        "code": "team-decision",
        "system": OVERRIDE_SYSTEM,
        "display": "Tumour board decided otherwise",
    },
]
"""Override reasons offered on cards (CDS Hooks 2.0 Card.overrideReasons; display required)."""


class Outcome(StrEnum):
    accepted = "accepted"
    overridden = "overridden"


class AcceptedSuggestion(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str


class OverrideReason(BaseModel):
    model_config = ConfigDict(extra="allow")
    reason: dict[str, Any] | None = None
    userComment: str | None = None


class FeedbackItem(BaseModel):
    """What the clinician did with one card, as recorded (read back as it was stored).

    New feedback is checked by :class:`CheckedFeedbackItem` before it is kept.
    """

    model_config = ConfigDict(extra="allow")
    card: str
    outcome: Outcome
    acceptedSuggestions: list[AcceptedSuggestion] = Field(default_factory=list)
    overrideReason: OverrideReason | None = None
    outcomeTimestamp: str


# Feedback as CDS Hooks 2.0 defines it ("Feedback", "OverrideReason", "Coding"), checked field by field
# before anything is stored: the feedback log is append-only, so an invalid item would stay for good.

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
CODING_TEXT_MAX = 500
"""Longest code, system or display of a Coding in feedback (characters)."""
USER_COMMENT_MAX = 2000
"""Longest override comment kept (characters)."""
ACCEPTED_SUGGESTIONS_MAX = 100
"""Most suggestions one feedback item may accept (a card of this service carries far fewer)."""


def _uuid_text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _UUID.fullmatch(value):
        raise InvalidInputError(
            "", value, f"the uuid of a {what} this service returned (8-4-4-4-12 hexadecimal digits)"
        )
    return value


def _text(value: Any, what: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise InvalidInputError("", value, f"{what}: a non-empty string of at most {limit} characters")
    return value


class CheckedSuggestion(AcceptedSuggestion):
    """AcceptedSuggestion: ``id`` is the ``card.suggestion.uuid`` accepted."""

    model_config = ConfigDict(extra="forbid")
    id: str
    extension: dict[str, Any] | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _id(cls, v: Any) -> str:
        return _uuid_text(v, "card suggestion")


class CheckedCoding(BaseModel):
    """A CDS Hooks Coding: ``system`` and ``code`` required, ``display`` optional."""

    model_config = ConfigDict(extra="forbid")
    system: str
    code: str
    display: str | None = None

    @field_validator("system", "display", mode="before")
    @classmethod
    def _bounded(cls, v: Any) -> str:
        return _text(v, "text", CODING_TEXT_MAX)

    @field_validator("code", mode="before")
    @classmethod
    def _code(cls, v: Any, info: ValidationInfo) -> str:
        code = _text(v, "a code", CODING_TEXT_MAX)
        offered = [r["code"] for r in OVERRIDE_REASONS]
        if info.data.get("system") == OVERRIDE_SYSTEM and code not in offered:
            raise InvalidInputError(
                "", code, offered, f"the override reasons this service offers in {OVERRIDE_SYSTEM}"
            )
        return code


class CheckedOverrideReason(OverrideReason):
    """OverrideReason: the ``reason`` chosen (a Coding) and/or the clinician's ``userComment``.

    A reason from :data:`OVERRIDE_SYSTEM` must be one the cards offer; a reason from another code
    system is the EHR's own, which CDS Hooks 2.0 allows ("may enable the clinician to provide an
    additional overrideReason").
    """

    model_config = ConfigDict(extra="forbid")
    reason: CheckedCoding | None = None  # type: ignore[assignment]
    userComment: str | None = None
    extension: dict[str, Any] | None = None

    @field_validator("userComment", mode="before")
    @classmethod
    def _comment(cls, v: Any) -> str:
        return _text(v, "the clinician's comment", USER_COMMENT_MAX)

    @model_validator(mode="after")
    def _not_empty(self) -> CheckedOverrideReason:
        if self.reason is None and self.userComment is None:
            raise InvalidInputError(
                "", {}, "a reason (Coding) or a userComment", "CDS Hooks: JSON objects are never empty"
            )
        return self


class CheckedFeedbackItem(FeedbackItem):
    """One Feedback as CDS Hooks 2.0 defines it, checked before it is kept.

    ``card`` is the ``card.uuid`` of a card this service returned; ``outcome`` accepted (with the
    ``acceptedSuggestions``, required then) or overridden (optionally with an ``overrideReason``);
    ``outcomeTimestamp`` an ISO 8601 date-time with its zone (CDS Hooks asks for UTC, ``...Z``). An
    accepted card with an override reason, or an overridden one with accepted suggestions, says two
    things at once and is refused.
    """

    model_config = ConfigDict(extra="forbid")
    card: str
    outcome: Outcome
    acceptedSuggestions: list[CheckedSuggestion] = Field(  # type: ignore[assignment]
        default_factory=list, validate_default=True
    )
    overrideReason: CheckedOverrideReason | None = Field(None, validate_default=True)
    outcomeTimestamp: str
    extension: dict[str, Any] | None = None

    @field_validator("card", mode="before")
    @classmethod
    def _card(cls, v: Any) -> str:
        return _uuid_text(v, "card")

    @field_validator("acceptedSuggestions")
    @classmethod
    def _suggestions(cls, v: list[CheckedSuggestion], info: ValidationInfo) -> list[CheckedSuggestion]:
        outcome = info.data.get("outcome")
        if outcome is Outcome.accepted and not v:
            raise InvalidInputError(
                "", v, "at least one accepted suggestion (its id) when outcome is accepted"
            )
        if outcome is Outcome.overridden and v:
            raise InvalidInputError(
                "",
                [s.id for s in v],
                "absent when outcome is overridden",
                "an overridden card accepts nothing",
            )
        if len(v) > ACCEPTED_SUGGESTIONS_MAX:
            raise InvalidInputError("", len(v), f"at most {ACCEPTED_SUGGESTIONS_MAX} accepted suggestions")
        return v

    @field_validator("overrideReason")
    @classmethod
    def _reason_only_when_overridden(
        cls, v: CheckedOverrideReason | None, info: ValidationInfo
    ) -> CheckedOverrideReason | None:
        if v is not None and info.data.get("outcome") is Outcome.accepted:
            raise InvalidInputError(
                "",
                v.model_dump(exclude_none=True),
                "absent when outcome is accepted",
                "only an overridden card has one",
            )
        return v

    @field_validator("outcomeTimestamp", mode="before")
    @classmethod
    def _timestamp(cls, v: Any) -> str:
        allowed = (
            "an ISO 8601 date-time with its time zone, in UTC as CDS Hooks asks, e.g. 2026-11-20T10:15:00Z"
        )
        if not isinstance(v, str) or "T" not in v[:11] or len(v) > 64:
            raise InvalidInputError("", v, allowed)
        try:
            when = dt.datetime.fromisoformat(v.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise InvalidInputError("", v, allowed) from None
        if when.tzinfo is None:
            raise InvalidInputError("", v, allowed, "without a zone the instant is not known")
        return v


class FeedbackRequest(BaseModel):
    """The body of a feedback call: one or more items, each checked (:class:`CheckedFeedbackItem`)."""

    model_config = ConfigDict(extra="forbid")
    feedback: list[CheckedFeedbackItem] = Field(min_length=1)
    extension: dict[str, Any] | None = None


# --- cards -------------------------------------------------------------------------------------------------

Indicator = Literal["info", "warning", "critical"]
_INDICATOR_RANK = {"info": 0, "warning": 1, "critical": 2}
PRIORITY_INDICATOR: dict[str, Indicator] = {
    "routine": "info",
    "asap": "warning",
    "urgent": "warning",
    "stat": "critical",
}
"""RequestGroup priority (from the plan urgency) -> card indicator."""


class Source(BaseModel):
    model_config = ConfigDict(frozen=True)
    label: str
    url: str | None = None
    topic: dict[str, Any] | None = None


class Action(BaseModel):
    model_config = ConfigDict(frozen=True)
    type: Literal["create", "update", "delete"]
    description: str
    resource: dict[str, Any] | None = None


class Suggestion(BaseModel):
    model_config = ConfigDict(frozen=True)
    label: str
    uuid: str
    isRecommended: bool | None = None
    actions: list[Action] = Field(default_factory=list)


class Link(BaseModel):
    model_config = ConfigDict(frozen=True)
    label: str
    url: str
    type: Literal["absolute", "smart"] = "absolute"


class Card(BaseModel):
    """A CDS Hooks card; the summary is checked against the "<140-character" limit (:data:`SUMMARY_MAX`)."""

    model_config = ConfigDict(frozen=True)
    uuid: str
    summary: str = Field(max_length=SUMMARY_MAX)
    detail: str | None = None
    indicator: Indicator
    source: Source
    suggestions: list[Suggestion] = Field(default_factory=list)
    selectionBehavior: Literal["at-most-one", "any"] | None = None
    overrideReasons: list[dict[str, Any]] = Field(default_factory=list)
    links: list[Link] = Field(default_factory=list)

    @field_validator("summary")
    @classmethod
    def _one_line(cls, v: str) -> str:
        if "\n" in v or not v.strip():
            raise ValueError("a card summary is one non-empty line")
        return v


def _without_empty(value: Any) -> Any:
    if isinstance(value, dict):
        kept = {k: _without_empty(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in (None, "", [], {})}
    if isinstance(value, list):
        return [_without_empty(v) for v in value]
    return value


def card_json(card: Card) -> dict[str, Any]:
    """A card as the response carries it: CDS Hooks 2.0 prohibits ``null``, ``""``, ``[]`` and ``{}``
    values ("If a JSON attribute is defined with an optionality of OPTIONAL, but does not have a value,
    implementers SHALL omit it"), so optional attributes without a value are left out."""
    out: dict[str, Any] = _without_empty(card.model_dump(mode="json", exclude_none=True))
    return out


def shorten(text: str, limit: int = SUMMARY_MAX) -> str:
    """One line of at most ``limit`` characters, cut at a word with an ellipsis (the detail has the rest)."""
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    cut = line[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"


def _card_id(hook_instance: str, key: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{hook_instance}/{key}"))


def _source(refs: Sequence[Reference]) -> Source:
    if refs:
        return Source(label=f"spinemets · {refs[0].short()}", url=refs[0].link)
    return Source(label="spinemets")


def _references_md(refs: Sequence[Reference]) -> str:
    return "\n".join(f"{n}. {r.vancouver()}" for n, r in enumerate(refs, 1))


def _score_lines(results: Iterable[Any]) -> list[str]:
    lines = []
    for r in results:
        where = f" at {r.subject}" if r.subject else ""
        lines.append(f"**{r.label()}{where}**")
        lines.extend(f"- {item.explain()}" for item in r.items)
        for m in r.missing:
            lines.append(f"- missing: {m} - {r.questions.get(m, '')}".rstrip(" -"))
    return lines


def _proposal(rec: Recommendation, subject: str | None, hook_instance: str) -> Suggestion:
    """A suggestion that drafts the step as a ServiceRequest proposal carrying the recommendation text."""
    resource = {
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "proposal",
        "code": {"text": rec.text},
        "subject": {"reference": subject} if subject else {"display": "patient"},
        "note": [{"text": f"spinemets recommendation {rec.id}; basis: {fhir.as_text(rec.basis)}"}],
    }
    return Suggestion(
        label=shorten(f"Propose: {rec.text}", 80),
        uuid=_card_id(hook_instance, f"rec-{rec.id}-propose"),
        actions=[Action(type="create", description="Draft proposal for this step", resource=resource)],
    )


def _plan_card(
    recs: Sequence[Recommendation],
    indicator: Indicator,
    summary: str,
    *,
    uuid: str,
    subject: str | None,
    hook_instance: str,
    links: list[Link],
) -> Card:
    """One card for one or more recommendations of the same indicator: each step with its basis and
    per-source statements, the references numbered once, one suggestion per actionable step."""
    refs: list[Reference] = []
    for rec in recs:
        refs.extend(r for r in rec.citations if r not in refs)
    lines: list[str] = []
    for rec in recs:
        marks = ", ".join(str(refs.index(r) + 1) for r in rec.citations)
        lines.append(
            f"- **{fhir.as_text(rec.category)}**: {fhir.recommendation_text(rec)}"
            + (f" [{marks}]" if marks else "")
        )
        lines.append(f"  Basis: {fhir.as_text(rec.basis)}")
        lines.extend(f"  {st.source}: {st.text}" for st in rec.per_source)
    if refs:
        lines += ["", "References:", _references_md(refs)]
    suggestions = [
        _proposal(rec, subject, hook_instance) for rec in recs if rec.kind.value in ("action", "obtain")
    ]
    return Card(
        uuid=uuid,
        summary=shorten(summary),
        detail="\n".join(lines),
        indicator=indicator,
        source=_source(refs),
        suggestions=suggestions,
        selectionBehavior="any" if suggestions else None,
        overrideReasons=OVERRIDE_REASONS if suggestions else [],
        links=links,
    )


def build_cards(
    assessment: Assessment,
    mapping: fhir.BundleMapping,
    *,
    hook_instance: str,
    report_url: str | None,
    selections: Sequence[str] = (),
) -> list[Card]:
    """Cards for one assessment: the scores, each urgent recommendation, the remaining routine plan,
    and the record entries that could not be used (so nothing is dropped without the clinician seeing)."""
    results = list(assessment.scores.values())
    links = [Link(label="Open spinemets (full report)", url=report_url)] if report_url else []
    recs = list(assessment.plan.recommendations) if assessment.plan is not None else []
    priorities = [fhir.priority_of(r.urgency) for r in recs]
    top: Indicator = max(
        (PRIORITY_INDICATOR[p] for p in priorities), key=_INDICATOR_RANK.__getitem__, default="info"
    )
    cards: list[Card] = []

    score_refs: list[Reference] = list(dict.fromkeys(ref for r in results for ref in r.citation))
    labels = "; ".join(r.label() + (f" at {r.subject}" if r.subject else "") for r in results)
    detail = [*_score_lines(results)]
    if selections:
        detail.insert(0, f"Orders selected: {', '.join(selections)}.")
    if score_refs:
        detail += ["", "References:", _references_md(score_refs)]
    bundle = fhir.assessment_to_bundle(assessment, subject=mapping.subject, basis=mapping.used)
    risk = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "RiskAssessment"]
    record = Suggestion(
        label="Record these scores in the chart",
        uuid=_card_id(hook_instance, "record-scores"),
        actions=[
            Action(type="create", description=f"Add RiskAssessment {r['code']['text']}", resource=r)
            for r in risk
        ],
    )
    cards.append(
        Card(
            uuid=_card_id(hook_instance, "scores"),
            summary=shorten(labels or "No score could be computed from the record"),
            detail="\n".join(detail),
            indicator=top,
            source=_source(score_refs),
            suggestions=[record] if risk else [],
            selectionBehavior="at-most-one" if risk else None,
            overrideReasons=OVERRIDE_REASONS,
            links=links,
        )
    )
    groups: dict[Indicator, list[Recommendation]] = {"critical": [], "warning": [], "info": []}
    for rec, priority in zip(recs, priorities, strict=True):
        groups[PRIORITY_INDICATOR[priority]].append(rec)
    for rec in groups["critical"]:
        cards.append(
            _plan_card(
                [rec],
                "critical",
                rec.text,
                uuid=_card_id(hook_instance, f"rec-{rec.id}"),
                subject=mapping.subject,
                hook_instance=hook_instance,
                links=links,
            )
        )
    grouped: tuple[tuple[Indicator, str], ...] = (("warning", "urgent"), ("info", "routine"))
    for indicator, word in grouped:
        group = groups[indicator]
        if group:
            summary = f"{len(group)} {word} step{'s' if len(group) > 1 else ''} in the plan: {group[0].text}"
            cards.append(
                _plan_card(
                    group,
                    indicator,
                    summary,
                    uuid=_card_id(hook_instance, word),
                    subject=mapping.subject,
                    hook_instance=hook_instance,
                    links=links,
                )
            )
    if mapping.ignored:
        cards.append(
            Card(
                uuid=_card_id(hook_instance, "unused"),
                summary=shorten(
                    f"{len(mapping.ignored)} record entries were not used; scores treat them as missing"
                ),
                detail="\n".join(f"- {i}" for i in mapping.ignored),
                indicator="info",
                source=Source(label="spinemets FHIR mapping"),
                links=links,
            )
        )
    cards.sort(key=lambda card: -_INDICATOR_RANK[card.indicator])
    return cards


# --- the record from prefetch or the FHIR server ------------------------------------------------------------


class PrefetchUnavailableError(SpinemetsError):
    """The data a service needs were neither prefetched nor fetchable (CDS Hooks: answer 412)."""


Fetcher = Callable[[str, str, FhirAuthorization | None], Any]
"""(fhirServer, query, authorization) -> the JSON the FHIR server returned. The query is relative to
the fhirServer (a filled prefetch template) or an absolute URL under it (a search's next page)."""


MAX_PAGES = 20
"""Search result pages followed (``link`` ``next``) before the record is declared too large."""


def _origin(parts: Any) -> tuple[str, str, int | None]:
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return (parts.scheme.lower(), (parts.hostname or "").lower(), parts.port or default)


def under_server(server: str, url: str) -> str:
    """``url`` (absolute, or relative to ``server``) when it lies on the origin of ``server`` and under
    its path; else :class:`PrefetchUnavailableError`. The EHR's access token is only for its FHIR
    server: a link elsewhere (another host, port or scheme, or outside the server's base path) is
    never followed, so the token is never sent there."""
    from urllib.parse import urljoin, urlsplit

    base = server.rstrip("/") + "/"
    target = urljoin(base, url)
    b, t = urlsplit(base), urlsplit(target)
    path = t.path
    if (
        _origin(b) != _origin(t)
        or not (path + "/").startswith(b.path)
        or "/../" in f"{path}/"
        or t.username is not None
        or t.password is not None
    ):
        raise PrefetchUnavailableError(
            f"a link {_origin_text(t)} is outside the fhirServer {_origin_text(b)}{b.path}: not followed "
            "(the access token is only sent to the fhirServer)"
        )
    return target


def _origin_text(parts: Any) -> str:
    scheme, host, port = _origin(parts)
    return f"{scheme}://{host}" + (f":{port}" if port else "")


def _next_link(page: Mapping[str, Any]) -> str | None:
    """The ``next`` link of a search result Bundle, if any."""
    links = page.get("link") or []
    if not isinstance(links, list):
        return None
    for link in links:
        if isinstance(link, Mapping) and link.get("relation") == "next":
            url = link.get("url")
            return url if isinstance(url, str) and url else None
    return None


def http_fetcher(timeout_s: float = 10.0, transport: Any = None) -> Fetcher:
    """Fetch from the EHR's FHIR server with the bearer token it sent (httpx), following search pages.

    ``query`` is relative to ``server`` or an absolute URL under it (a ``next`` link); every URL is
    checked with :func:`under_server` before the token is sent. The pages of a search are merged into
    the first (its ``next`` link removed). ``transport`` is an ``httpx`` transport (tests pass a mock one).
    """

    def fetch(server: str, query: str, auth: FhirAuthorization | None) -> Any:
        import httpx

        headers = {"Accept": "application/fhir+json"}
        if auth is not None:
            headers["Authorization"] = f"Bearer {auth.access_token}"
        what = query if "://" not in query else "a page of a search"
        url: str | None = under_server(server, query)
        first: dict[str, Any] | None = None
        with httpx.Client(timeout=timeout_s, transport=transport, follow_redirects=False) as client:
            for _ in range(MAX_PAGES):
                if url is None:
                    break
                url = under_server(server, url)
                try:
                    response = client.get(url, headers=headers)
                except httpx.HTTPError as exc:
                    raise PrefetchUnavailableError(
                        f"FHIR server unreachable for {what}: {type(exc).__name__}"
                    ) from exc
                if response.status_code != 200:
                    raise PrefetchUnavailableError(f"FHIR server answered {response.status_code} for {what}")
                try:
                    page = response.json()
                except ValueError:
                    kind = response.headers.get("content-type", "no content type")
                    raise PrefetchUnavailableError(
                        f"FHIR server answered {what} with something that is not JSON ({kind}); "
                        "a FHIR resource (application/fhir+json) was expected"
                    ) from None
                if not isinstance(page, dict) or not isinstance(page.get("resourceType"), str):
                    raise PrefetchUnavailableError(
                        f"FHIR server answered {what} with JSON that is not a FHIR resource "
                        f"({type(page).__name__} without resourceType)"
                    )
                if first is None:
                    first = page
                else:
                    entries = page.get("entry") or []
                    if isinstance(entries, list):
                        first.setdefault("entry", []).extend(entries)
                url = _next_link(page) if page.get("resourceType") == "Bundle" else None
            if url is not None:
                raise PrefetchUnavailableError(
                    f"{what}: more than {MAX_PAGES} pages of results; the record is too large to assess here"
                )
        if first is not None and isinstance(first.get("link"), list):
            first["link"] = [
                ln for ln in first["link"] if not (isinstance(ln, Mapping) and ln.get("relation") == "next")
            ]
        return first

    return fetch


def _fill(template: str, context: Mapping[str, Any]) -> str:
    out = template
    for key, value in context.items():
        if isinstance(value, str):
            out = out.replace("{{context." + key + "}}", value)
    return out


def _search_results(bundle: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
    """The entries (resource and fullUrl) of a search result Bundle; ``outcome`` entries
    (OperationOutcome) are not patient data."""
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise InvalidInputError(f"{where}.entry", type(entries).__name__, "a list of entries")
    out: list[dict[str, Any]] = []
    for i, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, Mapping) else None
        if not isinstance(resource, Mapping):
            raise InvalidInputError(f"{where}.entry[{i}].resource", resource, "a FHIR resource (JSON object)")
        search = entry.get("search") or {}
        mode = search.get("mode", "match") if isinstance(search, Mapping) else search
        if mode not in ("match", "include", "outcome"):
            raise InvalidInputError(f"{where}.entry[{i}].search.mode", mode, ("match", "include", "outcome"))
        if mode != "outcome":
            kept: dict[str, Any] = {"resource": dict(resource)}
            if isinstance(entry.get("fullUrl"), str) and entry["fullUrl"]:
                kept["fullUrl"] = entry["fullUrl"]
            out.append(kept)
    return out


def _server(request: HookRequest, fetch: Fetcher | None, before: str, after: str) -> tuple[str, Fetcher]:
    """The fhirServer and the fetcher to use, or 412 saying ``before``, what is missing, ``after``.

    CDS Hooks 2.0, FHIR Resource Access: "If the CDS Client provides both fhirServer and
    fhirAuthorization request parameters, the CDS Service MAY use the FHIR server", and "a CDS Service
    MUST be able to obtain an access token before communicating with the CDS Client's FHIR resource
    server": a fhirServer without a token is never called (an anonymous request)."""
    if not request.fhirServer or fetch is None:
        missing = "no fhirServer was given"
    elif request.fhirAuthorization is None:
        missing = "no fhirAuthorization (access token) was given for the fhirServer"
    else:
        return request.fhirServer, fetch
    raise PrefetchUnavailableError(f"{before} and {missing} {after}")


def _fetch_key(request: HookRequest, key: str, template: str, fetch: Fetcher | None, why: str) -> Any:
    """The data of prefetch ``key`` from the fhirServer, or 412 when it cannot be used (:func:`_server`)."""
    server, get = _server(request, fetch, f"prefetch '{key}' ({template}) {why}", "to fetch it")
    return get(server, _fill(template, request.context), request.fhirAuthorization)


def _failed_search(bundle: Any) -> str | None:
    """The first error or fatal issue of a search Bundle's ``outcome`` entries, described, else None.

    FHIR R4 Bundle.entry.search.mode ``outcome``: "An OperationOutcome that provides additional
    information about the processing of a search". An error there may mean the search left resources
    out, so the data are treated as not prefetched rather than scored as a complete record (the same
    rule as ``$assess``, which refuses such a Bundle); information and warnings are not failures.
    """
    if not isinstance(bundle, Mapping) or bundle.get("resourceType") != "Bundle":
        return None
    entries = bundle.get("entry")
    for entry in entries if isinstance(entries, list) else []:
        search = entry.get("search") if isinstance(entry, Mapping) else None
        resource = entry.get("resource") if isinstance(entry, Mapping) else None
        if not (
            isinstance(search, Mapping) and search.get("mode") == "outcome" and isinstance(resource, Mapping)
        ):
            continue
        failed = fhir.failed_issue(resource) if _is_outcome(resource) else None
        if failed is not None:
            return f"an OperationOutcome issue of severity {failed[1]}"
    return None


def _is_outcome(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get("resourceType") == "OperationOutcome"


def _all_pages(
    request: HookRequest, key: str, bundle: Mapping[str, Any], fetch: Fetcher | None
) -> Mapping[str, Any]:
    """A search result Bundle with the entries of all its pages: its ``next`` links are followed on the
    fhirServer (and only there, :func:`under_server`), at most :data:`MAX_PAGES` pages; without a
    fhirServer and its token a paginated result is a 412 (CDS Hooks: prefetch results come "at once", no next page)."""
    next_url = _next_link(bundle)
    if next_url is None:
        return bundle
    server, get = _server(
        request,
        fetch,
        f"prefetch '{key}' is paginated (its Bundle has a next link)",
        "to fetch the other pages; CDS Hooks asks for the whole result at once",
    )
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise InvalidInputError(f"prefetch.{key}.entry", type(entries).__name__, "a list of entries")
    merged = dict(bundle)
    merged["entry"] = list(entries)
    for _ in range(MAX_PAGES):
        url = under_server(server, next_url)
        page = get(server, url, request.fhirAuthorization)
        if not isinstance(page, Mapping) or page.get("resourceType") != "Bundle":
            raise PrefetchUnavailableError(f"a next page of prefetch '{key}' is not a Bundle")
        more = page.get("entry") or []
        if not isinstance(more, list):
            raise PrefetchUnavailableError(f"a next page of prefetch '{key}' has no list of entries")
        merged["entry"].extend(more)
        next_url = _next_link(page)
        if next_url is None:
            links = merged.get("link")
            if isinstance(links, list):
                merged["link"] = [
                    ln for ln in links if not (isinstance(ln, Mapping) and ln.get("relation") == "next")
                ]
            return merged
    raise PrefetchUnavailableError(
        f"prefetch '{key}': more than {MAX_PAGES} pages of results; the record is too large to assess here"
    )


def _read_entry(request: HookRequest, resource: Mapping[str, Any]) -> dict[str, Any]:
    """The entry of a resource that was read (``Patient/{{context.patientId}}``), with the fullUrl it has
    on the fhirServer when the client named one.

    A prefetch template is a request relative to the fhirServer (CDS Hooks 2.0, Prefetch Template: "the
    prefetched data ... MUST be equivalent to the data the CDS Service would receive if it were making
    its own call to the CDS Client's FHIR server"), so the Patient read is ``<fhirServer>/Patient/<id>``;
    a resource that refers to it by that absolute URL (FHIR R4 Reference.reference: "a relative reference
    ... or an absolute URL") then refers to the Patient of the record, as one that writes
    ``Patient/<id>`` does.
    """
    entry: dict[str, Any] = {"resource": dict(resource)}
    rtype, rid = resource.get("resourceType"), resource.get("id")
    if request.fhirServer and isinstance(rtype, str) and isinstance(rid, str) and rid:
        entry["fullUrl"] = f"{request.fhirServer.rstrip('/')}/{rtype}/{rid}"
    return entry


def record_bundle(request: HookRequest, service: CdsService, fetch: Fetcher | None) -> dict[str, Any]:
    """One collection Bundle of the patient's resources, from prefetch or, when missing, the FHIR server.

    CDS Hooks 2.0 tells three cases apart: a key that is absent was not prefetched (fetched from the
    fhirServer with the fhirAuthorization token, else 412); a key whose value is ``null`` means the EHR has no data for it (nothing to
    read); an OperationOutcome in place of the data means prefetching failed (fetched again from the
    fhirServer, else 412 naming the key). A paginated search result is completed page by page
    (:func:`_all_pages`).
    """
    prefetch = request.prefetch or {}
    entries: list[dict[str, Any]] = []
    for key, template in service.prefetch.items():
        if key in prefetch:
            value = prefetch[key]
            if value is None:
                continue  # "no data to populate" this template: e.g. a patient without conditions
            if _is_outcome(value):
                value = _fetch_key(
                    request, key, template, fetch, "holds an OperationOutcome (the EHR could not prefetch it)"
                )
            elif failed := _failed_search(value):
                value = _fetch_key(
                    request,
                    key,
                    template,
                    fetch,
                    f"is a search the EHR's server reports as failed ({failed})",
                )
        else:
            value = _fetch_key(request, key, template, fetch, "was not sent")
        if value is None:
            continue
        if _is_outcome(value):
            raise PrefetchUnavailableError(
                f"the fhirServer answered {key} ({template}) with an OperationOutcome"
            )
        if not isinstance(value, Mapping):
            raise InvalidInputError(f"prefetch.{key}", type(value).__name__, "a FHIR resource or a Bundle")
        if value.get("resourceType") == "Bundle":
            value = _all_pages(request, key, value, fetch)
            failed = _failed_search(value)
            if failed:
                raise PrefetchUnavailableError(
                    f"the search for {key} ({template}) reports a failure ({failed}): the record may be incomplete"
                )
            entries.extend(_search_results(value, f"prefetch.{key}"))
        else:
            entries.append(_read_entry(request, value))
    patient_id = request.context.get("patientId")
    for res in (e["resource"] for e in entries):
        if res.get("resourceType") == "Patient" and res.get("id") != patient_id:
            raise InvalidInputError(
                "prefetch.patient.id", res.get("id"), f"the context patientId {patient_id!r}"
            )
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def check_context(request: HookRequest, service: CdsService) -> None:
    """The hook must be the service's and its required context fields present (CDS Hooks 2.0 hooks),
    and a ``fhirAuthorization`` must come with the ``fhirServer`` it is for (CDS Hooks 2.0, Calling a
    CDS Service: fhirServer "If fhirAuthorization is provided, this field is REQUIRED")."""
    if request.hook != service.hook:
        raise InvalidInputError("hook", request.hook, f"'{service.hook}' for service {service.id}")
    if request.fhirAuthorization is not None and not request.fhirServer:
        raise InvalidInputError(
            "fhirServer",
            request.fhirServer,
            "the base URL of the FHIR server the fhirAuthorization token is for",
            "CDS Hooks requires fhirServer whenever fhirAuthorization is provided",
        )
    for name in _REQUIRED_CONTEXT[service.hook]:
        if request.context.get(name) in (None, ""):
            raise InvalidInputError(f"context.{name}", None, f"present for the {service.hook} hook")
    for name in _STRING_CONTEXT:  # prefetch tokens: a number or object would stay unreplaced in a query
        value = request.context.get(name)  # null: an optional field absent (a required one is refused above)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise InvalidInputError(
                f"context.{name}", value, f"a non-empty string for the {service.hook} hook"
            )
    if service.hook == "order-select":
        _check_orders(request.context)


def _check_orders(context: Mapping[str, Any]) -> None:
    """order-select: ``selections`` an array of "Type/id" strings, each an order of ``draftOrders``, a
    FHIR Bundle (hook order-select: "The selections field references FHIR resources in the draftOrders
    Bundle. For example, MedicationRequest/103")."""
    orders = context["draftOrders"]
    if not isinstance(orders, Mapping) or orders.get("resourceType") != "Bundle":
        got = orders.get("resourceType") if isinstance(orders, Mapping) else type(orders).__name__
        raise InvalidInputError(
            "context.draftOrders", got, "a FHIR Bundle of the draft orders (resourceType Bundle)"
        )
    entries = orders.get("entry") or []
    if not isinstance(entries, list):
        raise InvalidInputError("context.draftOrders.entry", type(entries).__name__, "a list of entries")
    drafted = set()
    for entry in entries:
        resource = entry.get("resource") if isinstance(entry, Mapping) else None
        kind, ident = (
            (resource.get("resourceType"), resource.get("id")) if isinstance(resource, Mapping) else ("", "")
        )
        if isinstance(kind, str) and kind and isinstance(ident, str) and ident:  # no id: nothing to select
            drafted.add(f"{kind}/{ident}")
    selections = context["selections"]
    if not isinstance(selections, list) or not selections:
        raise InvalidInputError(
            "context.selections",
            "an empty array" if selections == [] else type(selections).__name__,
            'a non-empty array of strings, e.g. ["MedicationRequest/103"]',
        )
    for i, selection in enumerate(selections):
        if not isinstance(selection, str) or not selection.strip():
            shown = selection if isinstance(selection, str) else type(selection).__name__
            raise InvalidInputError(
                f"context.selections[{i}]", shown, 'a string, e.g. "MedicationRequest/103"'
            )
        if selection not in drafted:
            raise InvalidInputError(
                f"context.selections[{i}]",
                selection,
                "an order of context.draftOrders (resourceType/id)",
                f"draftOrders holds {', '.join(sorted(drafted)) or 'no order'}",
            )


# --- JWT authentication of the CDS client ----------------------------------------------------------------------


class AuthenticationError(SpinemetsError):
    """The caller's JWT failed a check; the message names the check (never the token)."""


class IssuerKeys(BaseModel):
    """An allow-listed issuer and how to get its keys (mirrors ``service.settings.CdsIssuer``)."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    iss: str
    jwks_url: str | None = None
    jwks: dict[str, Any] | None = None
    public_key_pem: str | None = None
    algorithms: tuple[str, ...] = ("RS384", "ES384")


_FORBIDDEN_ALGS = {"none", "HS256", "HS384", "HS512"}


class JwtVerifier:
    """Checks CDS Hooks client JWTs: issuer allow-list, signature, audience, expiry and jti replay.

    ``replay`` remembers the jti values already used. The default, :class:`MemoryReplayCache`, is
    per process (library use, one worker); the service passes one kept in its database
    (:class:`spinemets.service.cds_store.DbReplayCache`) so that a replay to another worker is refused.
    """

    def __init__(
        self,
        issuers: Iterable[Any],
        *,
        leeway_s: int = 30,
        max_lifetime_s: int = 3600,
        clock: Callable[[], float] = time.time,
        replay: ReplayCache | None = None,
    ) -> None:
        self.issuers = {i.iss: IssuerKeys.model_validate(i, from_attributes=True) for i in issuers}
        self.leeway_s = leeway_s
        self.max_lifetime_s = max_lifetime_s
        self.clock = clock
        self.replay: ReplayCache = replay if replay is not None else MemoryReplayCache()
        self._jwks_clients: dict[str, Any] = {}

    def _key(self, issuer: IssuerKeys, header: Mapping[str, Any], token: str) -> Any:
        import jwt

        kid = header.get("kid")
        jku = header.get("jku")
        if jku is not None and jku != issuer.jwks_url:
            raise AuthenticationError(f"jku {jku!r} is not the JWKS URL configured for issuer {issuer.iss!r}")
        if issuer.jwks is not None:
            keys = [k for k in jwt.PyJWKSet.from_dict(issuer.jwks).keys if kid is None or k.key_id == kid]
            if len(keys) != 1:
                raise AuthenticationError(
                    f"no unique key with kid {kid!r} in the JWKS of issuer {issuer.iss!r}"
                )
            return keys[0].key
        if issuer.public_key_pem is not None:
            return issuer.public_key_pem
        if issuer.jwks_url is not None:
            client = self._jwks_clients.get(issuer.jwks_url)
            if client is None:
                client = self._jwks_clients.setdefault(issuer.jwks_url, jwt.PyJWKClient(issuer.jwks_url))
            try:
                return client.get_signing_key_from_jwt(token).key
            except jwt.PyJWKClientError as exc:
                raise AuthenticationError(f"key for issuer {issuer.iss!r}: {exc}") from None
        raise AuthenticationError(f"issuer {issuer.iss!r} has no key configured")

    def verify(self, token: str, audience: str | Sequence[str]) -> dict[str, Any]:
        """The claims of a valid token for ``audience`` (the endpoint URL); else AuthenticationError."""
        import jwt

        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise AuthenticationError(f"malformed JWT: {exc}") from None
        for name in ("alg", "kid", "typ", "jku"):
            if name in header and not isinstance(header[name], str):
                raise AuthenticationError(
                    f"malformed JWT: header {name} must be a string; got a {type(header[name]).__name__}"
                )
        if not isinstance(unverified, dict):
            raise AuthenticationError("malformed JWT: the payload must be a JSON object")
        if not header.get("kid"):
            raise AuthenticationError(
                "the JWT header has no kid (CDS Hooks requires the id of the signing key)"
            )
        if str(header.get("typ", "")).upper() != "JWT":
            raise AuthenticationError(
                f"the JWT header typ must be 'JWT' (CDS Hooks); got {header.get('typ')!r}"
            )
        iss = unverified.get("iss")
        issuer = self.issuers.get(iss) if isinstance(iss, str) else None
        if issuer is None:
            raise AuthenticationError(f"issuer {iss!r} is not on the allow-list")
        alg = header.get("alg")
        if alg in _FORBIDDEN_ALGS or alg not in issuer.algorithms:
            raise AuthenticationError(
                f"algorithm {alg!r} not accepted for issuer {iss!r}: {', '.join(issuer.algorithms)}"
            )
        key = self._key(issuer, header, token)
        now = self.clock()
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=list(audience) if not isinstance(audience, str) else audience,
                issuer=iss,
                leeway=self.leeway_s,
                options={"require": ["iss", "aud", "exp", "iat", "jti"], "verify_iat": True},
            )
        except jwt.InvalidSignatureError:
            raise AuthenticationError("signature does not verify with the issuer's key") from None
        except jwt.ExpiredSignatureError:
            raise AuthenticationError("token expired (exp is in the past)") from None
        except jwt.InvalidAudienceError:
            raise AuthenticationError(f"aud is not this service endpoint ({audience})") from None
        except jwt.ImmatureSignatureError:
            raise AuthenticationError("iat or nbf is in the future") from None
        except jwt.MissingRequiredClaimError as exc:
            raise AuthenticationError(f"required claim missing: {exc.claim}") from None
        except jwt.PyJWTError as exc:
            raise AuthenticationError(f"invalid token: {exc}") from None
        if float(claims["iat"]) > now + self.leeway_s:
            raise AuthenticationError("iat is in the future")
        if float(claims["exp"]) - float(claims["iat"]) > self.max_lifetime_s:
            raise AuthenticationError(f"token lifetime exceeds {self.max_lifetime_s} s")
        self._check_replay(issuer.iss, str(claims["jti"]), float(claims["exp"]), now)
        return claims

    def _check_replay(self, iss: str, jti: str, exp: float, now: float) -> None:
        if len(jti) > MAX_JTI:
            raise AuthenticationError(f"jti is longer than {MAX_JTI} characters")
        if not self.replay.claim(iss, jti, exp, now=now, leeway_s=self.leeway_s):
            raise AuthenticationError("jti already used (replayed token)")


MAX_JTI = 255
"""Longest jti accepted (the database column of the service's replay cache)."""


class ReplayCache(Protocol):
    """Remembers the (issuer, jti) pairs used, until their token has expired."""

    def claim(self, iss: str, jti: str, exp: float, *, now: float, leeway_s: float) -> bool:
        """Record the first use of (iss, jti); False if it was used before. Forgets pairs whose ``exp``
        plus ``leeway_s`` is before ``now`` (such a token is refused as expired anyway)."""
        ...


class MemoryReplayCache:
    """A replay cache in this process's memory: enough for library use and a single worker."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def claim(self, iss: str, jti: str, exp: float, *, now: float, leeway_s: float) -> bool:
        with self._lock:
            for key in [k for k, until in self._seen.items() if until + leeway_s < now]:
                del self._seen[key]
            if (iss, jti) in self._seen:
                return False
            self._seen[(iss, jti)] = exp
            return True

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._seen


class FeedbackStore(Protocol):
    """Where feedback goes: :class:`FeedbackLog` in memory, or the service database."""

    def add(self, service_id: str, items: Sequence[FeedbackItem], *, client: str = "unauthenticated") -> int:
        """Keep the items (in order); the number kept."""
        ...

    def items(self, limit: int = 1000) -> list[tuple[str, FeedbackItem]]:
        """The newest ``limit`` items as (service id, item), oldest first."""
        ...


class FeedbackLog:
    """Feedback received, newest last (bounded, in memory): library use without a database."""

    def __init__(self, maxlen: int = 10_000) -> None:
        self._items: deque[tuple[str, FeedbackItem]] = deque(maxlen=maxlen)
        self._lock = threading.Lock()

    def add(self, service_id: str, items: Sequence[FeedbackItem], *, client: str = "unauthenticated") -> int:
        with self._lock:
            self._items.extend((service_id, item) for item in items)
            return len(items)

    def items(self, limit: int = 1000) -> list[tuple[str, FeedbackItem]]:
        with self._lock:
            return list(self._items)[-limit:] if limit > 0 else []


__all__ = [
    "ORDER_SELECT",
    "PATIENT_VIEW",
    "PREFETCH",
    "SERVICES",
    "SUMMARY_MAX",
    "AuthenticationError",
    "Card",
    "CheckedFeedbackItem",
    "FeedbackItem",
    "FeedbackLog",
    "FeedbackRequest",
    "FeedbackStore",
    "HookRequest",
    "JwtVerifier",
    "MemoryReplayCache",
    "PrefetchUnavailableError",
    "ReplayCache",
    "build_cards",
    "card_json",
    "check_context",
    "discovery",
    "http_fetcher",
    "record_bundle",
    "shorten",
]
