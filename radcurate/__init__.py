"""radcurate: PACS export + RIS reports -> de-identified, labeled, validated Parquet dataset.

The stages live in the repository's top-level folders and are installed as ``radcurate.<stage>``:
``ingest``, ``deid``, ``nlp``, ``labeling``, ``synthesis``, ``dags`` and ``training`` (under
construction). This root package holds only what every stage shares: table I/O with atomic writes and
the quarantine schema (``tables``), the Dask client (``cluster``) and the date parser (``dates``).
"""

__version__ = "0.1.0"
