"""spinemets: clinical decision support for patients with spinal metastases.

The public API: :func:`score` (one published score, from calculator items or a patient),
:func:`assess` (every score and the cited plan for a patient), :func:`ask` (guideline-backed
answers from the curated evidence base), :data:`SCORES` (the catalogue) and the patient model
:class:`Patient`.
"""

from spinemets.assessment import Assessment, assess
from spinemets.errors import InvalidInputError, SpinemetsError
from spinemets.evidence import Answer, ask
from spinemets.model import Patient, load_patient, parse_patient
from spinemets.scores import SCORES, ScoreResult, score

__version__ = "0.1.0"

__all__ = [
    "SCORES",
    "Answer",
    "Assessment",
    "InvalidInputError",
    "Patient",
    "ScoreResult",
    "SpinemetsError",
    "__version__",
    "ask",
    "assess",
    "load_patient",
    "parse_patient",
    "score",
]
