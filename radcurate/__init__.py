"""radcurate: PACS export + RIS reports -> de-identified, labeled, validated Parquet dataset.

The stages live in the repository's top-level folders and are installed as ``radcurate.<stage>``:
``ingest``, ``deid``, ``nlp``, ``labeling``, ``synthesis``, ``training`` and ``dags``. This root
package holds only what every stage shares: table I/O with atomic writes and the quarantine schema.
"""

__version__ = "0.1.0"
