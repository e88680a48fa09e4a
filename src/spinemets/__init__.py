"""spinemets: clinical decision support for patients with spinal metastases.

The public API: :func:`score` (one published score, from calculator items or a patient),
:func:`assess` (every score for a patient), :data:`SCORES` (the catalogue) and the patient
model :class:`Patient`.
"""

from spinemets.assessment import Assessment, assess
from spinemets.errors import InvalidInputError, SpinemetsError
from spinemets.model import Patient, load_patient, parse_patient
from spinemets.scores import SCORES, ScoreResult, score

__version__ = "0.1.0"

__all__ = [
    "SCORES",
    "Assessment",
    "InvalidInputError",
    "Patient",
    "ScoreResult",
    "SpinemetsError",
    "__version__",
    "assess",
    "load_patient",
    "parse_patient",
    "score",
]
