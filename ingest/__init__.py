"""radcurate ingest stage."""
