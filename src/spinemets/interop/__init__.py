"""EHR integration: FHIR R4 mapping (:mod:`.fhir`) and CDS Hooks 2.0 (:mod:`.cds_hooks`).

Adapters at the edge: they translate a record into the patient model and an assessment into FHIR
resources and cards; scores and plans come from :func:`spinemets.assess`. Their HTTP endpoints are
part of the service (:mod:`spinemets.service.ehr_routes`), which imports this package, never the
other way round. Needs the ``api`` extra (fhir.resources; PyJWT and httpx for CDS Hooks).
"""

from spinemets.interop.fhir import assessment_to_bundle, bundle_to_patient, map_bundle, patient_to_bundle

__all__ = ["assessment_to_bundle", "bundle_to_patient", "map_bundle", "patient_to_bundle"]
