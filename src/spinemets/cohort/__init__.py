"""Cohorts: every score for every row of a registry (CSV/Parquet, local or Dask), and survival validation.

Needs the ``cohort`` extra (polars, pyarrow, lifelines, scikit-survival, matplotlib, dask). Entry
points: :func:`spinemets.cohort.run.score_file`, :func:`spinemets.cohort.validate.validate_file`,
:func:`spinemets.cohort.synth.synth_frame`; the CLI is ``spinemets cohort``. See docs/cohort.md.

Modules: ``expressions`` (score definitions -> polars expressions), ``fast`` (the same expressions
on distinct values, broadcast by codes), ``frame`` (one chunk: mapping, scores, errors),
``mapping`` (registry names and codes), ``run`` (streaming, engines, output), ``patients``
(patient -> cohort row), ``synth`` (synthetic cohort), ``validate`` (survival report), ``lesions``
(one row per lesion -> one row per patient).
"""

#: Rows per chunk when streaming a file (here so that the CLI can show it without importing polars).
#: A quarter of a million keeps two cores busy from the first chunk to the last (a larger first
#: chunk is scored while nothing else can run) and memory well under 2 GiB.
DEFAULT_CHUNK_ROWS = 250_000
