"""radcurate synthesis stage."""
