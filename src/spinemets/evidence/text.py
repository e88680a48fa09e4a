"""Tokenising for retrieval: spelling normalisation, medical abbreviations and synonyms, stemming.

Clinicians write "MSCC", "MESCC", "cord compression" or "metastatic epidural spinal cord
compression" for the same thing, and "SBRT", "SRS" or "stereotactic radiosurgery" for one
technique. Documents and queries go through the same :func:`tokenize`, which keeps the original
words and adds one *concept token* (``c_mscc``) per recognised synonym, so that BM25 matches any
spelling of a concept. The synonym table is data (:data:`CONCEPTS`), reviewed like the statements.
"""

from __future__ import annotations

import re
from functools import cache
from typing import NamedTuple

#: concept token -> regular-expression alternatives (matched on normalised lowercase text).
CONCEPTS: dict[str, tuple[str, ...]] = {
    "c_mets": (r"mets?", r"metastas[ie]s", r"metastatic", r"secondar(?:y|ies) deposits?", r"secondaries"),
    "c_spine": (r"spine", r"spinal", r"vertebra[el]?", r"vertebral", r"spinal column", r"backbone"),
    "c_mscc": (
        r"mscc",
        r"mescc",
        r"(?:metastatic )?(?:epidural )?(?:spinal )?cord compression",
        r"cauda equina (?:compression|syndrome)",
        r"compression of the (?:spinal )?cord",
    ),
    "c_escc": (
        r"escc",
        r"bilsky",
        r"epidural (?:spinal cord )?compression (?:scale|grade)",
        r"epidural grade",
    ),
    "c_noms": (r"noms",),
    "c_sins": (r"sins", r"spinal instability neoplastic score", r"instability", r"unstable", r"stability"),
    "c_sbrt": (
        r"sbrt",
        r"srs",
        r"sabr",
        r"stereotactic",
        r"radiosurgery",
        r"stereotactic body radiation therapy",
    ),
    "c_ebrt": (
        r"c?ebrt",
        r"external beam",
        r"conventional (?:radiotherapy|radiation|rt)",
        r"palliative (?:radiotherapy|radiation)",
    ),
    "c_imrt": (r"imrt", r"intensity[ -]modulated"),
    "c_rt": (r"radiotherapy", r"radiation(?: therapy)?", r"irradiation", r"rt", r"xrt", r"radiate"),
    # radiotherapy after an operation, in either order ("after surgery, before starting radiotherapy"); a list
    # ("after surgery and radiotherapy", "after surgery or the start of radiotherapy") is not
    "c_postop_rt": (
        r"(?:postoperative|post-?op|adjuvant) (?:radiotherapy|rt|sbrt|srs|sabr|irradiation)",
        r"after (?:the |an? )?(?:\w+ )?(?:surgery|operation|decompression|stabilis\w*)"
        r"(?: (?:before|starting|start|to|we|should|begin|beginning|commencing|giving|give|can|is|the))*"
        r" (?:radiotherapy|rt|sbrt|srs|sabr)",
        r"(?:radiotherapy|rt|sbrt|srs|sabr)(?: (?:be|is|needed|required|indicated|given|start|starts|begin|begins))*"
        r" after (?:the |an? )?(?:\w+ )?(?:surgery|operation|decompression|stabilis\w*)",
    ),
    "c_reirr": (
        r"re-?irradiat\w*",
        r"re-?treatment",
        r"second course",
        r"repeat (?:radiotherapy|radiation|irradiation)",
    ),
    "c_fraction": (
        r"fractionation",
        r"fractions?",
        r"dose",
        r"gy",
        r"\d+gy",
        r"schedules?",
        r"regimens?",
        # an amount asked for is a dose ("how much dex should I give?"), not "how much does it help"
        r"how much(?! (?:time|longer|later|sooner|earlier|more|less|better|worse|benefit|risk|pain|does|do|did|is"
        r"|are|was|were|will|would|can|could))",
        r"how many (?:mg|milligrams?|grams?|gy|fractions?)",
    ),
    "c_perf": (
        r"kps",
        r"karnofsky",
        r"ecog",
        r"performance status",
        r"who ps",
        r"(?:good|poor|moderate|general|clinical) (?:general )?condition",
    ),
    "c_vcf": (
        r"vcf",
        r"(?:vertebral )?compression fractures?",
        r"pathological fractures?",
        r"vertebral fractures?",
        r"collapse",
    ),
    "c_bma": (
        r"bmas?",
        r"bone[- ]modifying",
        r"bone[- ]targeted",
        r"bisphosphonates?",
        r"zoledron\w*",
        r"pamidronate",
        r"denosumab",
        r"xgeva",
    ),
    "c_onj": (r"onj", r"osteonecrosis(?: of the jaw)?"),
    "c_pet": (r"pet", r"pet-?ct", r"fdg"),
    "c_mri": (r"mri", r"magnetic resonance", r"mr imaging", r"stir"),
    "c_ct": (r"ct", r"computed tomography", r"cat scan"),
    "c_xray": (r"x-?rays?", r"plain (?:films?|radiographs?)", r"radiographs?"),
    "c_bonescan": (r"bone scan\w*", r"scintigraph\w*", r"99m?tc", r"technetium"),
    "c_steroid": (
        r"steroids?",
        r"corticosteroids?",
        r"dexamethasone",
        r"dex",
        r"glucocorticoids?",
    ),
    "c_surgery": (
        r"surgery",
        r"surgical",
        r"operat\w+",
        r"decompress\w*",
        r"laminectomy",
        r"stabilis\w+",
        r"fixation",
        r"instrumentation",
        r"spondylodesis",
        r"fusion",
        r"vertebrectomy",
        r"corpectomy",
        r"spondylectomy",
    ),
    "c_aug": (
        r"vertebroplasty",
        r"kyphoplasty",
        r"cement",
        r"augmentation",
        r"pca",
    ),
    "c_surgical_opinion": (
        r"surgical (?:opinion|consultation|review|referral)",
        r"(?:(?:spine|spinal|orthopaedic|neuro) )?surgeons?(?:'s)?(?: (?:opinion|review|consultation))?",
    ),
    "c_enbloc": (r"en[- ]?bloc", r"tes", r"radical resection", r"total spondylectomy"),
    "c_cup": (
        r"unknown primary",
        r"unknown origin",
        r"cup",
        r"occult primary",
        r"primary (?:is )?unknown",
        r"no (?:known )?primary",
        # a metastasis in a patient not known to have cancer
        r"(?:no|without(?: a| any)?) (?:known|previous|prior|history of|diagnosed) (?:cancer|malignancy|primary tumour)",
        r"(?:cancer|malignancy) (?:not known|unknown)",
    ),
    "c_groin": (r"inguinal", r"groins?", r"inguinofemoral", r"femoral nodes?"),
    "c_lnd": (r"lymphadenectomy", r"lymph node dissection", r"[ip]?lnd", r"node dissection", r"dissection"),
    "c_nodes": (
        r"lymphadenopathy",
        r"lymph nodes?",
        r"nodes?",
        r"nodal",
        r"adenopathy",
        r"lymphadenopath\w*",
    ),
    "c_recur": (
        r"recurren\w+",
        r"relapse\w*",
        r"progress\w*",
        r"local failure",
        r"slr",
        r"regrowth",
        r"local control",
    ),
    "c_followup": (
        r"follow[- ]?up",
        r"surveillance",
        # watching the patient, not a laboratory value ("monitor blood glucose" on dexamethasone)
        r"monitor\w*(?! (?:of |for )?(?:the )?(?:blood|serum|glucose|sugars?|calcium|hypocalcaemia|renal|kidney"
        r"|creatinine|electrolytes|levels?))",
        r"restaging",
    ),
    "c_analgesia": (
        r"analges\w+",
        r"opioids?",
        r"morphine",
        r"painkillers?",
        r"pain relief",
        r"pain control",
    ),
    "c_rfa": (r"rfa", r"radiofrequency(?: ablation)?", r"ablation"),
    "c_rehab": (
        r"rehabilitation",
        r"rehab",
        r"physiotherapy",
        r"physical therapy",
        r"occupational therapy",
        r"mobilis\w+",
    ),
    "c_vte": (
        r"vte",
        r"dvt",
        r"thromboprophylaxis",
        r"lmwh",
        r"venous thrombo\w*",
        r"anticoagula\w+",
        r"heparin",
    ),
    "c_infection": (
        r"spondylodiscitis",
        r"discitis",
        r"osteomyelitis",
        r"infection",
        r"infectious",
        r"abscess",
    ),
    "c_osteoporosis": (r"osteoporo\w+", r"benign (?:fracture|collapse|vcf)", r"insufficiency fracture"),
    "c_prognosis": (
        r"prognos\w+",
        r"survival",
        # "survive" stems apart from "survival" (surv / surviv): the verb asks the same
        r"surviv(?:e|es|ed|ing)",
        r"life expectancy",
        r"expected survival",
        # "how long" asks about survival only when it asks how long someone lives ("how long should we
        # wait before radiotherapy?" asks for an interval)
        r"how long (?:\w+ ){0,3}(?:live|lives|living|survive|survives)",
        r"how long (?:\w+ ){0,2}(?:have|has|got) left",
        r"mortality",
    ),
    # the two populations the fractionation and surgery statements are written for (opposites)
    "c_good_condition": (
        r"good (?:general )?(?:prognosis|condition|performance(?: status)?)",
        r"favourable prognosis",
        r"long(?:er)? (?:life expectancy|expected survival)",
        r"(?:expected )?survival of (?:1|one) year or more",
        r"life expectancy (?:of )?(?:more than|over|at least|of at least) (?:1|one|a) year",
    ),
    "c_poor_condition": (
        r"(?:moderate or )?poor (?:general )?(?:prognosis|condition|performance(?: status)?)",
        r"short (?:life expectancy|expected survival)",
        r"limited life expectancy",
        r"(?:expected )?survival (?:of )?(?:under|less than|below) (?:1|one|a) year",
        r"life expectancy (?:of )?(?:under|less than|below) (?:\d+|one|a|three|six) (?:year|months?)",
    ),
    "c_markers": (r"tumour markers?", r"psa", r"ca ?15-?3", r"cea", r"ca ?19-?9", r"ca-?125"),
    "c_walk": (r"ambulat\w+", r"walk\w*", r"gait", r"mobility"),
    "c_deficit": (
        r"neurological deficits?",
        r"(?:(?:legs?|limbs?|arms?|motor|muscle) |(?<!spinal )(?<!bone )(?<!structural ))weakness(?: (?:of|in) (?:the |both |his |her )?(?:legs?|limbs?|arms?))?",
        r"(?:legs?|limbs?|arms?) (?:are |is |got |getting |became |become )?weak(?:er)?",
        r"weak (?:legs?|limbs?|arms?)",
        r"(?:para|tetra|quadri|hemi|mono)?pares[ie]s",
        r"(?:para|tetra|quadri|hemi|mono)?paretic",
        r"paralys[ie]s",
        r"paralysed",
        r"(?:para|tetra|quadri|hemi|mono)?plegi\w*",
        r"palsy",
        r"motor (?:deficits?|loss|impairment)",
        r"neurolog\w+",
        r"myelopathy",
        r"radiculopathy",
    ),
    "c_acute": (
        r"acute(?:ly)?",
        r"hyperacute",
        r"sudden(?:ly)?(?: onset)?",
        r"new(?:ly)?(?: onset)?(?= (?:\w+ )?(?:paraplegi|tetraplegi|quadriplegi|pares|parapares|tetrapares|weak|deficit|neurolog|"
        r"numb|incontinen|retention|inability|loss|paralys))",
        r"since (?:this morning|last night|yesterday|today|the morning|\d+h|a few hours)",
        r"(?:this morning|overnight|within hours|over hours)",
        r"rapid(?:ly)? (?:progressive|progressing|worsening|deteriorat\w*)",
        r"(?:worsening|deteriorat\w*) (?:quickly|rapidly|fast)",
    ),
    "c_no_deficit": (
        r"(?:without|no|absent|absence of|not any|free of) (?:a |any )?(?:new )?(?:neurological|neurologic|neuro|motor)"
        r"(?: (?:deficits?|symptoms|signs|symptoms or signs|signs or symptoms|involvement|impairment))?",
        r"(?:without|no) (?:a |any )?deficits?",
        r"neurologically (?:intact|normal)",
        r"intact neurology",
    ),
    "c_complete": (
        r"complete (?:spinal )?(?:cord )?(?:lesion|injury|transection|paraplegi\w*|tetraplegi\w*|loss)",
        r"complete(?:ly)? (?:paralys[ie]s|paralysed)",
        r"asia (?:grade )?a",
        r"established (?:complete )?(?:cord lesion|lesion|paraplegi\w*|tetraplegi\w*|deficit)",
        r"(?:long-?standing|chronic|permanent|irreversible|old) (?:complete )?(?:paraplegi\w*|tetraplegi\w*|deficit|cord lesion)",
        r"paraplegi\w* for (?:more than |over )?(?:\d+|several|many) (?:days?|weeks?|months?|years?)",
    ),
    "c_sphincter": (r"bladder", r"bowel", r"sphincter", r"incontinen\w+", r"urinary retention"),
    "c_palliative": (r"palliat\w+", r"end of life", r"hospice", r"supportive care", r"best supportive care"),
    "c_psycho": (r"psycholog\w+", r"psychosocial", r"emotional", r"anxiety", r"depression", r"distress"),
    "c_mdt": (r"mdt", r"multidisciplinary", r"interdisciplinary", r"tumour board", r"team discussion"),
    "c_biopsy": (r"biops\w+", r"fna", r"fine[- ]needle", r"core needle", r"histolog\w+", r"tissue diagnosis"),
    "c_penile": (r"penile", r"penis"),
    "c_vulvar": (r"vulvar", r"vulva", r"vulval"),
    "c_melanoma": (r"melanomas?",),
    "c_other_groin_primary": (r"anal(?: canal)?", r"anus", r"rectal", r"rectum", r"vaginal"),
    # primaries that do not drain to the groin: naming one closes the penile and vulvar branches too
    "c_non_groin_primary": (
        r"breast (?:cancer|carcinoma)",
        r"prostate (?:cancer|carcinoma)",
        r"lung (?:cancer|carcinoma)",
        r"n?sclc",
        r"renal cell",
        r"kidney (?:cancer|carcinoma)",
        r"thyroid (?:cancer|carcinoma)",
        r"myeloma",
        r"lymphoma",
        r"colo(?:n|rectal) (?:cancer|carcinoma)",
        r"bladder (?:cancer|carcinoma)",
        r"urothelial",
        r"hepatocellular",
        r"(?:gastric|stomach) (?:cancer|carcinoma)",
        r"o?esophageal (?:cancer|carcinoma)",
        r"pancreatic (?:cancer|carcinoma)",
        r"sarcoma",
        r"(?:endometrial|ovarian) (?:cancer|carcinoma)",
    ),
    "c_radiopharm": (
        r"radiopharmaceuticals?",
        r"radionuclides?",
        r"radium(?:-223)?",
        r"samarium(?:-153)?",
        r"strontium(?:-89)?",
    ),
    "c_systemic": (
        r"chemotherapy",
        r"systemic therapy",
        r"systemic treatment",
        r"targeted therapy",
        r"immunotherapy",
        r"hormon\w+ therapy",
        r"tyrosine kinase",
    ),
    "c_urgent": (r"urgent\w*", r"emergency", r"immediate\w*", r"as soon as possible", r"asap", r"same day"),
    "c_diff": (r"differential(?: diagnosis)?", r"mimics?", r"distinguish\w*", r"differentiat\w+"),
    "c_flare": (r"pain flare", r"flare"),
    "c_tokuhashi": (r"tokuhashi",),
    "c_tomita": (r"tomita",),
    "c_bauer": (r"bauer",),
    "c_nesms": (r"nesms", r"new england spinal metastasis score"),
    "c_sorg": (r"sorg",),
    "c_diagnose": (
        r"diagnos\w*",
        r"detect\w*",
        r"work[- ]?up",
        r"investigat\w*",
        r"imaging",
        r"scans?",
        r"mri",
        r"pet-?ct",
        r"myelography",
    ),
    "c_epidemiology": (
        r"epidemiolog\w+",
        r"incidence",
        r"prevalence",
        r"how common",
        r"how often",
        r"frequency",
        r"proportion",
        r"percentage",
        r"how many(?! (?:mg|milligrams?|grams?|gy|fractions?)(?![a-z0-9]))",
        r"\d+(?:\.\d+)?(?: to \d+(?:\.\d+)?)?% of (?:all )?(?:people|patients)",
    ),
    "c_indication": (
        r"indications?",
        r"indicated",
        r"who should",
        r"candidates?",
        r"select\w*",
        r"eligib\w*",
        r"suitable",
        r"when (?:is|are|should|to|can)",
    ),
}

#: Canonical wording of a concept, read into a question whose synonym of it no statement uses
#: ("paraparesis" -> "neurological deficit"; see spinemets.evidence.retrieval.LexicalIndex.expansion).
CANONICAL: dict[str, str] = {
    "c_deficit": "neurological deficit",
    "c_rehab": "rehabilitation",
    "c_rt": "radiotherapy",
    "c_steroid": "dexamethasone",
    "c_sbrt": "SBRT",
    "c_vcf": "compression fracture",
    "c_surgical_opinion": "surgical opinion",
}

#: British/American spelling and common variants, applied before tokenising.
_SPELLING: tuple[tuple[str, str], ...] = (
    (r"tumor", "tumour"),
    (r"izations?\b", "isation"),
    (r"ize\b", "ise"),
    (r"ized\b", "ised"),
    (r"esophag", "oesophag"),
    (r"\bhemat", "haemat"),
    (r"\bedema", "oedema"),
    (r"\bhemorrhag", "haemorrhag"),
    (r"hypocalcemia", "hypocalcaemia"),
    (r"hypercalcemia", "hypercalcaemia"),
    (r"leukemia", "leukaemia"),
    (r"anemia", "anaemia"),
    (r"\bcenter", "centre"),
    (r"\bradiation(?: therapy)?\b", "radiotherapy"),
    # one term for the noun, so that "follow-up" does not match "followed by" (a sequence of treatments)
    (r"\bfollow(?:ed|ing)?[- ]?ups?\b", "followup"),
    (r"(\d+(?:\.\d+)?)\s*gy\b", r"\1gy"),
    (r"(\d+)\s*(?:h|hrs?|hours?)\b", r"\1h"),
    (r"(\d+)\s*(?:weeks?|wks?)\b", r"\1 week"),
    (r"(\d+)\s*(?:months?|mo)\b", r"\1 month"),
)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


STOPWORDS = _words(
    """a an and are as at be been being by can could did do does doing for from had has have how i if in
    into is it its of on or our should so than that the their them then there these they this those to
    up us was we were what when where which while who whom why will with would you your me my
    about any all also after before between during over under per vs versus via
    tell explain describe please give list approach role best component components result results show
    shows showed mean means difference important much kind does work used use indicate indicates suggest
    suggests like such eg"""
)

#: Words so common in this domain that they say nothing about whether a question is covered.
GENERIC = _words(
    """patient patients treatment treat treated management manage managed cancer cancers tumour tumours
    spinal spine vertebral vertebra metastasis metastases metastatic mets disease clinical option options
    recommended recommendation guideline guidelines c_mets c_spine person people adult adults"""
)

_TOKEN_RE = re.compile(r"[a-z0-9]+(?:[.][0-9]+)?")
_SUFFIXES = (
    "isations",
    "isation",
    "ations",
    "ation",
    "ated",
    "ates",
    "ate",
    "ically",
    "ics",
    "ivity",
    "ical",
    "ities",
    "ity",
    "ings",
    "ing",
    "ions",
    "ion",
    "ies",
    "ied",
    "ness",
    "ment",
    "ous",
    "ive",
    "es",
    "ed",
    "ic",
    "al",
    "ly",
    "ia",
    "is",
    "s",
    "y",
    "e",
)


@cache
def _concept_patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple(
        (concept, re.compile(r"(?<![a-z0-9])(?:" + "|".join(alts) + r")(?![a-z0-9])"))
        for concept, alts in CONCEPTS.items()
    )


@cache
def _spelling_patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    return tuple((re.compile(p), r) for p, r in _SPELLING)


def normalise(text: str) -> str:
    """Lowercase, unify spelling variants and units (``8 Gy`` -> ``8gy``, ``24 hours`` -> ``24h``)."""
    t = text.lower().replace("–", "-").replace("—", "-").replace("/", " / ")
    for pat, rep in _spelling_patterns():
        t = pat.sub(rep, t)
    return t


def stem(word: str) -> str:
    """A deliberately small suffix stripper: enough to merge plurals and -ation/-ing forms."""
    if len(word) <= 4 or not word.isalpha():
        return word
    for suf in _SUFFIXES:
        if word.endswith(suf) and len(word) - len(suf) >= 4:
            return word[: -len(suf)]
    return word


#: "after surgery and radiotherapy", "following SBRT to the spine": the clause names the setting of a
#: question (what came before), not what it asks about; it ends at punctuation or where a new clause starts.
_SETTING_RE = re.compile(
    r"(?<![a-z0-9])(?:after|following)\s+(.+?)"
    r"(?=\s*[?,;:.!(]|\s+(?:before|should|shall|must|is|are|was|were|do|does|did|can|could|will|would|what|how"
    r"|when|which|who|why)(?![a-z0-9])|\s*$)"
)


#: "Which MRI sequences ...", "what analgesics?": the words right after "which" or "what" (up to the first
#: stopword) name the kind of answer the question wants, its focus.
_FOCUS_RE = re.compile(r"(?<![a-z0-9])(?:which|what)\s+([a-z0-9 -]+)")


def concepts(normalised: str) -> list[str]:
    """Concept tokens found in already-normalised text, once per concept."""
    return [c for c, pat in _concept_patterns() if pat.search(normalised)]


class Analysis(NamedTuple):
    """A text read for retrieval: its BM25 tokens, the stemmed words concept tokens stand in for,
    those words by concept, and the tokens found only in a setting clause."""

    tokens: list[str]
    covered: frozenset[str]
    by_concept: dict[str, frozenset[str]]
    setting: frozenset[str] = frozenset()
    """Tokens (words and concepts) that occur only in an "after ..." clause of a question that also
    names something else: "How to follow up after surgery and radiotherapy?" asks about follow-up;
    surgery and radiotherapy are its setting. Empty when nothing specific lies outside the clause."""
    focus: frozenset[str] = frozenset()
    """Specific words that follow "which" or "what" up to the first stopword: what kind of answer the
    question wants ("Which MRI sequences are required?" -> mri, sequenc)."""


def analyse(text: str) -> Analysis:
    """Tokens for BM25 and the stemmed words that a concept token stands in for.

    The second part lets coverage checks ignore phrasing words ("proportion", "who should") whose
    meaning the concept token already carries; the third keeps them by concept; the fourth names the
    tokens of the question's setting (:attr:`Analysis.setting`), the fifth its focus (:attr:`Analysis.focus`).
    """
    words, by_concept, setting = _analyse(text)
    covered = frozenset(w for ws in by_concept.values() for w in ws)
    return Analysis(words + list(by_concept), covered, by_concept, setting, _focus(text))


def _focus(text: str) -> frozenset[str]:
    focus: set[str] = set()
    for m in _FOCUS_RE.finditer(normalise(text)):
        for w in _TOKEN_RE.findall(m.group(1)):
            if w in STOPWORDS:
                break
            focus.add(stem(w))
    return frozenset(w for w in focus if not is_generic(w))


def _analyse(text: str) -> tuple[list[str], dict[str, frozenset[str]], frozenset[str]]:
    t = normalise(text)
    spans: dict[str, list[tuple[int, int]]] = {}
    for concept, pat in _concept_patterns():
        matches = [m.span() for m in pat.finditer(t)]
        if matches:
            spans[concept] = matches
    settings = [m.span(1) for m in _SETTING_RE.finditer(t)]

    def in_setting(start: int, end: int) -> bool:
        return any(a <= start and end <= b for a, b in settings)

    words: list[str] = []
    inside: dict[str, bool] = {}
    by_concept: dict[str, set[str]] = {c: set() for c in spans}
    for m in _TOKEN_RE.finditer(t):
        w = m.group()
        if w in STOPWORDS:
            continue
        s = stem(w)
        words.append(s)
        inside[s] = inside.get(s, True) and in_setting(*m.span())
        for concept, found in spans.items():
            if any(a <= m.start() and m.end() <= b for a, b in found):
                by_concept[concept].add(s)
    for concept, found in spans.items():
        inside[concept] = all(in_setting(a, b) for a, b in found)
    setting = frozenset(tok for tok, only_inside in inside.items() if only_inside)
    if not any(not only_inside and not is_generic(tok) for tok, only_inside in inside.items()):
        setting = frozenset()  # the question is all setting ("what after SBRT?"): nothing to weigh down
    return words, {c: frozenset(ws) for c, ws in by_concept.items()}, setting


def tokenize(text: str) -> list[str]:
    """Tokens for BM25: stemmed content words plus concept tokens."""
    return analyse(text)[0]


@cache
def _generic_stems() -> frozenset[str]:
    return frozenset(stem(g) for g in GENERIC) | GENERIC


def is_generic(token: str) -> bool:
    """True for domain-wide tokens that do not make a question specific."""
    return token in _generic_stems()
