"""The engine itself: closed YAML schema, ids declared both ways, determinism, versions, robustness."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from spinemets import assess
from spinemets.errors import KnowledgeBaseError
from spinemets.knowledge.bibliography import load_bibliography
from spinemets.rules import build_plan, registry, ruleset_version
from spinemets.rules.content import RecommendationSpec, RuleSetFile, load_content
from spinemets.rules.engine import AREAS, RuleContext
from spinemets.rules.facts import Facts
from spinemets.rules.followup import add_months
from spinemets.rules.model import Recommendation, SourceStatement, Urgency

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _example(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))


def test_recommendation_schema_rejects_unknown_keys() -> None:
    good = {
        "category": "imaging",
        "kind": "action",
        "urgency": "urgent",
        "certainty": "V",
        "text": "x",
        "citations": ["nl-wm-2015"],
    }
    RecommendationSpec.model_validate(good)
    with pytest.raises(ValidationError, match="extra"):
        RecommendationSpec.model_validate({**good, "urgncy": "urgent"})
    with pytest.raises(ValidationError):
        RecommendationSpec.model_validate({**good, "urgency": "soon"})
    with pytest.raises(ValidationError):
        RecommendationSpec.model_validate({**good, "citations": []})


def test_ruleset_schema_rejects_unknown_setting() -> None:
    raw = load_content().model_dump(mode="json")
    ruleset = {"version": raw["version"], "description": "d", "settings": {**raw["settings"], "surprise": 1}}
    with pytest.raises(ValidationError, match="surprise"):
        RuleSetFile.model_validate(ruleset)


def test_every_citation_resolves_in_the_bibliography() -> None:
    bib = load_bibliography()
    for rec_id, spec in load_content().recommendations.items():
        for ref in (*spec.citations, *(c for ps in spec.per_source for c in ps.citations)):
            assert ref in bib, f"{rec_id} cites unknown {ref}"


def test_every_yaml_text_is_emitted_by_exactly_one_rule_and_every_rule_has_texts() -> None:
    declared: dict[str, str] = {}
    for r in registry():
        for rec_id in r.emits:
            assert rec_id not in declared, f"{rec_id} declared by {declared.get(rec_id)} and {r.name}"
            declared[rec_id] = r.name
    assert set(declared) == set(load_content().recommendations)


def test_rules_run_in_area_order() -> None:
    areas = [r.name.split(".")[0] for r in registry()]
    assert areas == sorted(areas, key=AREAS.index)


def test_emitting_an_undeclared_id_is_an_error() -> None:
    a = assess(_example("breast_t12_mechanical.json"))
    ctx = RuleContext(facts=Facts(a.patient, a.scores, a.sins_by_lesion, load_content()))
    ctx.current = registry()[0]
    with pytest.raises(KnowledgeBaseError, match="does not declare"):
        ctx.emit("surgery.en-bloc", ["x"])


def test_a_basis_that_is_not_text_is_an_error() -> None:
    # Recommendations are built without pydantic's validation (spinemets.model.trusted), so the
    # engine checks what a rule hands it.
    a = assess(_example("breast_t12_mechanical.json"))
    ctx = RuleContext(facts=Facts(a.patient, a.scores, a.sins_by_lesion, load_content()))
    ctx.current = registry()[0]
    declared = ctx.current.emits[0]
    with pytest.raises(KnowledgeBaseError, match="basis that is not text"):
        ctx.emit(declared, ["SINS 11", 11])


@pytest.mark.parametrize("name", ["breast_t12_mechanical.json", "renal_t6_mscc_radioresistant.json"])
def test_built_recommendations_are_what_validation_would_build(name: str) -> None:
    plan = assess(_example(name)).plan
    assert plan is not None and plan.recommendations
    for rec in plan.recommendations:
        again = Recommendation.model_validate(rec.model_dump())
        assert again == rec and again.model_dump_json() == rec.model_dump_json()
        assert all(type(s) is SourceStatement for s in rec.per_source)


def test_plan_is_deterministic_and_versioned() -> None:
    patient = _example("renal_t6_mscc_radioresistant.json")
    first, second = assess(patient), assess(copy.deepcopy(patient))
    assert first.plan == second.plan
    assert first.plan is not None
    assert first.ruleset_version == first.plan.ruleset_version == ruleset_version() == load_content().version


def test_plan_is_sorted_by_urgency_and_references_are_numbered_once() -> None:
    plan = assess(_example("renal_t6_mscc_radioresistant.json")).plan
    assert plan is not None
    ranks = [r.urgency.rank for r in plan.recommendations]
    assert ranks == sorted(ranks)
    assert plan.urgency is Urgency.emergency
    ids = [ref.id for ref in plan.references]
    assert len(ids) == len(set(ids))
    cited = {c.id for r in plan.recommendations for c in r.citations}
    assert set(ids) == cited
    assert plan.reference_number(ids[0]) == 1


def test_unverified_recall_is_flagged() -> None:
    """[K] facts carry unverified=True (guidelines.md tags): en bloc rests on the recalled Tomita band text."""
    plan = assess(_example("renal_t6_mscc_radioresistant.json")).plan
    assert plan is not None
    en_bloc = plan.get("surgery.en-bloc")
    assert en_bloc is not None and en_bloc.unverified
    dex = plan.get("systemic.dexamethasone-mscc")
    assert dex is not None and dex.unverified  # the recalled CG75 taper wording is one of its sources


def test_dated_follow_up_schedule_for_the_seed003_patient() -> None:
    """Seed 003: every 3 months in year 1, every 6 months in year 2, then yearly (to 5 years)."""
    plan = assess(_example("seed003_followup_after_surgery_and_radiotherapy.json")).plan
    assert plan is not None
    months = [s.month for s in plan.schedule]
    assert months == [3, 6, 9, 12, 18, 24, 36, 48, 60]
    start = dt.date(2026, 5, 12)
    assert [s.due for s in plan.schedule] == [add_months(start, m) for m in months]
    assert plan.schedule[0].due == dt.date(2026, 8, 12)


def test_add_months_clamps_to_month_end() -> None:
    assert add_months(dt.date(2026, 1, 31), 1) == dt.date(2026, 2, 28)
    assert add_months(dt.date(2026, 11, 30), 3) == dt.date(2027, 2, 28)
    assert add_months(dt.date(2024, 11, 29), 3) == dt.date(2025, 2, 28)


def test_build_plan_without_optional_scores_asks_instead_of_crashing() -> None:
    """A score missing from the catalogue (e.g. tomita) removes its rules' input; the gate asks."""
    a = assess(_example("renal_t6_mscc_radioresistant.json"))
    scores = {
        k: v
        for k, v in a.scores.items()
        if k not in ("tokuhashi_revised", "tokuhashi_1990", "tomita", "escc")
    }
    plan = build_plan(a.patient, scores, a.sins_by_lesion)
    # the example is in the Patchell population (ESCC 2 with myelopathy): the gate asks at once
    asked = plan.get("surgery.obtain-eligibility-decompression")
    assert asked is not None and asked.urgency is Urgency.emergency
    assert plan.get("surgery.en-bloc") is None
    assert plan.get("surgery.decompression-mscc") is None


def _drop(data: Any, draw: st.DrawFn) -> Any:
    if isinstance(data, dict):
        out = {}
        for k, v in data.items():
            if k in ("level", "histology_other", "value", "unit") or not draw(st.booleans()):
                out[k] = _drop(v, draw)
        return out
    if isinstance(data, list):
        return [_drop(v, draw) for v in data]
    return data


@st.composite
def _partial_patients(draw: st.DrawFn) -> dict[str, Any]:
    names = sorted(p.name for p in EXAMPLES.glob("*.json"))
    return _drop(_example(draw(st.sampled_from(names))), draw)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_partial_patients())
def test_any_subset_of_facts_gives_a_plan_with_basis_and_citations(patient: dict[str, Any]) -> None:
    plan = assess(patient).plan
    assert plan is not None
    for rec in plan.recommendations:
        assert rec.basis and rec.citations and rec.text
        assert "{" not in rec.text


def test_a_recommendation_resting_on_a_recalled_fact_is_marked_unverified() -> None:
    """The best-supportive-care gate here rests on Tokuhashi 1990 <= 5 (<= 3 months), a band meaning
    tagged [K] in the reference sheet (scores.md 2b): the statement itself is verified (ASTRO 2024), but
    the plan line must not look verified when its basis is recalled."""
    scenario = json.loads((Path(__file__).parent / "scenarios" / "poor_prognosis_bsc.json").read_text())
    plan = assess(scenario["patient"]).plan
    assert plan is not None
    recs = {r.id: r for r in plan.recommendations}
    bsc = recs["noms.best-supportive-care"]
    assert bsc.certainty.value == "V" and any("recalled, unverified]" in b for b in bsc.basis)
    assert bsc.unverified
    pathway = recs["triage.emergency-pathway"]
    assert not pathway.unverified and not any("recalled" in b for b in pathway.basis)


def test_myeloma_with_low_clearance_sees_esmos_denosumab_preference() -> None:
    # reference/guidelines.md, bone-modifying agents: ESMO 2020 [V] "denosumab preferred in myeloma with
    # renal impairment (truncated)"; the plan quoted ESMO's indications without it
    import spinemets

    patient = json.loads(
        (Path(__file__).resolve().parents[2] / "examples" / "breast_t12_mechanical.json").read_text()
    )
    patient["primary"] = {"histology": "myeloma", "histology_confirmed": True}
    patient["labs"] = {"creatinine_clearance_ml_min": 25}
    plan = spinemets.assess(patient).plan
    assert plan is not None
    bma = next(r for r in plan.recommendations if r.id == "systemic.bone-modifying-agent")
    esmo = next(s for s in bma.per_source if s.source == "ESMO 2020")
    assert (
        "denosumab preferred in myeloma with renal impairment" in esmo.text
        and "without a threshold" in esmo.text
    )
    low = next(r for r in plan.recommendations if r.id == "systemic.low-clearance")
    # ASCO-CCO 2017: creatinine before each IV bisphosphonate dose; the label (recalled, guidelines.md
    # 7.2 [K]) does not recommend zoledronic acid below 30 mL/min: "needs renal adjustment" read as
    # if a lower dose were the answer at 25 mL/min
    assert "not recommend it below 30 mL/min" in low.text and "recalled, unverified" in low.text
    assert "before each IV bisphosphonate dose" in low.text


def test_follow_up_schedule_names_ct_myelography_when_mri_is_contraindicated() -> None:
    # seed 003 (follow-up): CT myelography when MRI is contraindicated; the schedule item still said
    # "contrast-enhanced MRI" beside the item saying MRI is contraindicated
    import spinemets

    patient = json.loads(
        (Path(__file__).resolve().parents[2] / "examples" / "breast_t12_mechanical.json").read_text()
    )
    patient["context"] = {
        **patient.get("context", {}),
        "treatment_received": "radiotherapy",
        "treatment_date": "2026-10-01",
        "mri_contraindicated": True,
    }
    plan = spinemets.assess(patient).plan
    assert plan is not None
    texts = {r.id: r.text for r in plan.recommendations}
    assert "follow-up.ct-myelography" in texts
    assert texts["follow-up.mri-schedule"].startswith("Follow up with CT myelography of the whole spine")
    patient["context"]["mri_contraindicated"] = False
    plan = spinemets.assess(patient).plan
    assert plan is not None
    schedule = next(r for r in plan.recommendations if r.id == "follow-up.mri-schedule")
    assert schedule.text.startswith("Follow up with contrast-enhanced MRI of the whole spine")


def test_noms_summary_does_not_call_a_suspected_histology_radiosensitive() -> None:
    # NOMS waits for the tissue (noms.obtain-histology: "radiosensitivity cannot be judged"), yet the
    # board summary of the same plan read "Oncologic: histology lymphoma = radiosensitive"
    scenario = json.loads(
        (Path(__file__).parent / "scenarios" / "suspected_lymphoma_tissue_pending_mscc.json").read_text()
    )
    plan = assess(scenario["patient"]).plan
    assert plan is not None
    texts = {r.id: r.text for r in plan.recommendations}
    assert "cannot be judged" in texts["noms.obtain-histology"]
    assert (
        "Oncologic: histology lymphoma = radiosensitive if confirmed on tissue (not yet)"
        in texts["noms.summary"]
    )
    confirmed = copy.deepcopy(scenario["patient"])
    confirmed["primary"]["histology_confirmed"] = True
    confirmed_plan = assess(confirmed).plan
    assert confirmed_plan is not None
    summary = next(r.text for r in confirmed_plan.recommendations if r.id == "noms.summary")
    assert "Oncologic: histology lymphoma = radiosensitive (histology table" in summary


def test_steroids_started_before_the_biopsy_agree_with_stopping_them_once_mri_rules_out_mscc() -> None:
    # Unknown primary, no deficit, ESCC 0 on MRI, on corticosteroids: NICE 1.8.2 says stop
    # (systemic.stop-steroids); the biopsy caution of the same plan said stopping was 'not settled'
    path = Path(__file__).parent / "scenarios" / "unknown_primary_on_steroids.json"
    plan = assess(json.loads(path.read_text())["patient"]).plan
    assert plan is not None
    texts = {r.id: r.text for r in plan.recommendations}
    assert "stop them" in texts["systemic.stop-steroids"]
    given = texts["systemic.steroids-given-before-biopsy"]
    assert "not settled" not in given and "stops them once MRI rules out MSCC" in given


def test_a_tokuhashi_1990_band_an_unnamed_primary_could_leave_sets_no_survival_gate() -> None:
    # Myeloma takes Tokuhashi 1990's 'other' (1); the NICE CG75 table gives 2 (docs/conflicts.md), and the
    # score warns that the total may be 1 point higher: 5 (<= 3 months) may be 6 (intermediate). The plan
    # sent this patient to best supportive care on that band; it now says why the band does not settle it
    path = Path(__file__).parent / "scenarios" / "myeloma_mscc_tokuhashi_1990_unnamed_primary.json"
    patient = json.loads(path.read_text())["patient"]
    result = assess(patient)
    t1990 = result.scores["tokuhashi_1990"]
    assert t1990.total == 5 and t1990.band is not None and t1990.band.key == "up_to_3_months"
    assert any("1 point higher" in w for w in t1990.warnings)
    plan = result.plan
    assert plan is not None
    summary = next(r for r in plan.recommendations if r.id == "noms.summary")
    assert any(
        "Tokuhashi 1990 5 (<= 3 months) does not settle it: myeloma is not named in Tokuhashi 1990" in b
        and "giving 6 (intermediate)" in b
        for b in summary.basis
    )
    # a named primary with the same total keeps the gate: breast scores 2 in every source
    named = copy.deepcopy(patient)
    named["primary"] = {"histology": "breast", "histology_confirmed": True}
    named["performance"] = {"kps": 40}
    named_result = assess(named)
    assert named_result.scores["tokuhashi_1990"].total == 5
    named_plan = named_result.plan
    assert named_plan is not None
    bsc = next(r for r in named_plan.recommendations if r.id == "noms.best-supportive-care")
    assert bsc.basis[0].startswith("Tokuhashi 1990 5 (<= 3 months) [band meaning recalled")
    # a total that stays in the band with the extra point still settles it
    low = copy.deepcopy(patient)
    low["performance"] = {"kps": 40}
    low_plan = assess(low).plan
    assert low_plan is not None
    assert "noms.best-supportive-care" in low_plan.ids()


def test_sbrt_is_not_offered_as_the_alternative_to_surgery_the_plan_asks_for() -> None:
    # ASTRO 2024 selects SBRT for patients not having surgery; an unstable radioresistant lesion read
    # 'stabilise' and 'SBRT ... avoids surgery' in one plan. Surgery open (fitness not recorded): no SBRT
    # item yet; surgery ruled out (not fit): SBRT is the option again, with its fracture-risk caution
    path = Path(__file__).parent / "scenarios" / "nsclc_unstable_c2_low_grade_surgery_first.json"
    patient = json.loads(path.read_text())["patient"]
    open_case = copy.deepcopy(patient)
    del open_case["context"]["fit_for_surgery"]
    plan = assess(open_case).plan
    assert plan is not None
    ids = plan.ids()
    assert "stability.stabilise" in ids and "surgery.obtain-prognosis" in ids
    assert "noms.sbrt" not in ids and "radiotherapy.sbrt-regimens" not in ids
    not_fit = copy.deepcopy(patient)
    not_fit["context"]["fit_for_surgery"] = False
    plan = assess(not_fit).plan
    assert plan is not None
    ids = plan.ids()
    assert "surgery.not-eligible" in ids and "stability.stabilise" not in ids
    assert {"noms.sbrt", "radiotherapy.sbrt-regimens", "radiotherapy.sbrt-fracture-risk"} <= set(ids)
    assert "radiotherapy.fractionation-pain" in ids


def test_decompression_at_an_irradiated_level_does_not_claim_patchells_population() -> None:
    # Patchell 2005 excluded earlier radiotherapy that ruled out a further 30 Gy; the plan cited the trial
    # (84% vs 57% walking) for a level given 30 Gy/10 before, whether or not progression was recorded there
    path = Path(__file__).parent / "scenarios" / "breast_irradiated_level_mscc_deficit.json"
    patient = json.loads(path.read_text())["patient"]
    lesion_only = copy.deepcopy(patient)
    del lesion_only["lesions"][0]["progression_after_radiotherapy"]
    for key in ("treatment_received", "treatment_date", "new_symptoms_since_treatment"):
        del lesion_only["context"][key]
    plan = assess(lesion_only).plan
    assert plan is not None
    recs = {r.id: r for r in plan.recommendations}
    assert "surgery.decompression-mscc" not in recs
    caution = recs["surgery.decompression-irradiated-level"]
    assert caution.urgency is Urgency.emergency
    assert any("T7 (30 Gy/10): Patchell 2005 excluded" in b for b in caution.basis)
    not_fit = copy.deepcopy(lesion_only)
    not_fit["context"]["fit_for_surgery"] = False
    plan = assess(not_fit).plan
    assert plan is not None
    assert "surgery.decompression-irradiated-level" not in plan.ids()
    never = copy.deepcopy(lesion_only)
    del never["lesions"][0]["prior_radiotherapy"]
    plan = assess(never).plan
    assert plan is not None
    assert "surgery.decompression-mscc" in plan.ids()
    assert "surgery.decompression-irradiated-level" not in plan.ids()


def test_cord_compression_at_an_irradiated_level_keeps_the_surgical_eligibility_gate() -> None:
    # Leaving Patchell's population must not leave surgery: the caution asks for a decision now (NL-WM:
    # surgery when re-irradiation cannot reach an adequate dose), yet with no other surgical indication the
    # gate was silent: a fit patient got no surgery.eligibility, one whose fitness was not recorded no
    # request for it, an unfit one no surgery.not-eligible
    path = Path(__file__).parent / "scenarios" / "breast_irradiated_level_mscc_deficit.json"
    patient = json.loads(path.read_text())["patient"]
    del patient["lesions"][0]["progression_after_radiotherapy"]
    for key in ("treatment_received", "treatment_date", "new_symptoms_since_treatment"):
        del patient["context"][key]
    plan = assess(patient).plan
    assert plan is not None
    gate = plan.get("surgery.eligibility")
    assert gate is not None and any("level irradiated before" in b for b in gate.basis)
    unknown = copy.deepcopy(patient)
    del unknown["context"]["fit_for_surgery"]
    plan = assess(unknown).plan
    assert plan is not None
    asked = plan.get("surgery.obtain-eligibility-decompression")
    assert asked is not None and asked.urgency is Urgency.emergency  # as the caution it gates
    assert "level irradiated before" in asked.text and "population of the Patchell" not in asked.text
    assert "the team's judgement of fitness for surgery" in asked.text
    unfit = copy.deepcopy(patient)
    unfit["context"]["fit_for_surgery"] = False
    plan = assess(unfit).plan
    assert plan is not None
    assert plan.get("surgery.not-eligible") is not None


def test_a_course_recorded_for_the_patient_counts_as_irradiating_the_compressing_level() -> None:
    # treatment_received 'radiotherapy' and one lesion (the treated one): the deterioration scenario's T4 was
    # irradiated, so Patchell 2005 (earlier radiotherapy ruling out 30 Gy excluded) does not cover it either
    path = Path(__file__).parent / "scenarios" / "deterioration_despite_treatment.json"
    patient = json.loads(path.read_text())["patient"]
    plan = assess(patient).plan
    assert plan is not None
    caution = plan.get("surgery.decompression-irradiated-level")
    assert caution is not None
    assert any("T4 (treatment received: radiotherapy, recorded for the patient)" in b for b in caution.basis)
    # a level the record tells apart as new (another lesion records the course) is not counted
    patient["lesions"].append(
        {"level": "L3", "escc": "0", "prior_radiotherapy": {"dose_gy": 8, "fractions": 1}}
    )
    plan = assess(patient).plan
    assert plan is not None
    assert plan.get("surgery.decompression-irradiated-level") is None


def test_eligibility_for_emergency_decompression_is_asked_for_as_an_emergency() -> None:
    # NSCLC, ESCC 3 at T4, complete deficit for 24 hours, fitness not recorded: the Patchell window (surgery
    # within 24 hours, paraplegia of at most 48 hours) was gated by an 'urgent' request for fitness
    patient = {
        "assessment_date": "2026-11-20",
        "primary": {"histology": "lung_nsclc", "histology_confirmed": True},
        "performance": {"kps": 70},
        "neurology": {"frankel": "A", "motor_deficit": True, "complete_deficit_hours": 24},
        "lesions": [{"level": "T4", "escc": "3", "bone_lesion": "lytic"}],
        "burden": {"vertebrae_involved": 1, "extraspinal_bone_metastases": 0, "visceral_metastases": "none"},
        "context": {"known_cancer": True, "mri_done": True},
    }
    plan = assess(patient).plan
    assert plan is not None
    asked = plan.get("surgery.obtain-eligibility-decompression")
    assert asked is not None and asked.urgency is Urgency.emergency
    assert "the team's judgement of fitness for surgery" in asked.text
    assert plan.get("surgery.obtain-prognosis") is None
    assert plan.get("surgery.decompression-mscc") is None  # not chosen before fitness is known


def test_escc_1c_read_as_low_grade_says_that_its_management_is_debated() -> None:
    # guidelines.md 4.2 [V]: at 1c (cord abutted, not compressed) surgery versus SRS is controversial; the
    # plan gave 'SBRT ... epidural compression is low grade, so ... avoids surgery' without saying so
    patient = {
        "assessment_date": "2026-11-20",
        "primary": {"histology": "thyroid", "histology_confirmed": True},
        "performance": {"kps": 80},
        "neurology": {"frankel": "E", "motor_deficit": False, "radiculopathy": "none"},
        "pain": {"type": "occasional", "severity_nrs": 4},
        "lesions": [
            {
                "level": "T7",
                "bone_lesion": "lytic",
                "collapse": "none",
                "alignment": "normal",
                "posterolateral": "unilateral",
                "escc": "1c",
            }
        ],
        "context": {"known_cancer": True, "mri_done": True, "fit_for_surgery": True},
    }
    plan = assess(patient).plan
    assert plan is not None
    sbrt = plan.get("noms.sbrt")
    assert sbrt is not None
    assert any("ESCC 1c" in b and "debated" in b for b in sbrt.basis)
    patient["lesions"][0]["escc"] = "1b"
    plan = assess(patient).plan
    assert plan is not None
    sbrt = plan.get("noms.sbrt")
    assert sbrt is not None
    assert not any("debated" in b for b in sbrt.basis)


def test_early_palliative_care_waits_for_the_tissue_only_when_no_other_metastasis_is_recorded() -> None:
    # A solitary lesion without a proven primary may be a primary bone tumour, so early palliative care 'for
    # distant metastatic disease' waits for the biopsy; but organ or brain metastases, or positive inguinal
    # nodes, recorded beside it are distant metastatic disease whatever the spinal lesion proves to be
    path = Path(__file__).parent / "scenarios" / "no_known_cancer_solitary_lesion_tissue_first.json"
    patient = json.loads(path.read_text())["patient"]
    plan = assess(patient).plan
    assert plan is not None and "palliative.early-palliative-care" not in plan.ids()
    for burden, nodes in (
        ({"visceral_metastases": "untreatable"}, {}),
        ({"brain_metastases": True}, {}),
        ({}, {"inguinal_lymphadenopathy": True, "inguinal_nodes_positive": 2}),
    ):
        spread = copy.deepcopy(patient)
        spread["burden"].update(burden)
        spread["nodes"] = nodes
        plan = assess(spread).plan
        assert plan is not None
        assert "differential.primary-bone-tumour" in plan.ids()  # a bone sarcoma can spread too
        care = plan.get("palliative.early-palliative-care")
        assert care is not None, (burden, nodes)


def test_a_painful_level_outside_the_planned_surgery_keeps_its_radiotherapy_schedules() -> None:
    # Postoperative radiotherapy replaces the pain schedules for the level to be operated on (ASTRO 2024: the
    # four schedules are for uncomplicated metastases), not for a painful, stable level elsewhere: the
    # unstable C2 beside a painful S2 left S2 with no radiotherapy item at all
    path = Path(__file__).parent / "scenarios" / "nsclc_unstable_c2_low_grade_surgery_first.json"
    patient = json.loads(path.read_text())["patient"]
    plan = assess(patient).plan
    assert plan is not None and "radiotherapy.fractionation-pain" not in plan.ids()  # S2 pain: none
    patient["lesions"][1]["pain"] = "occasional"
    plan = assess(patient).plan
    assert plan is not None
    schedules = plan.get("radiotherapy.fractionation-pain")
    assert schedules is not None
    assert any("S2" in b and "C2" not in b for b in schedules.basis)
    assert "radiotherapy.postoperative" in plan.ids()
