"""radcurate labeling stage."""
