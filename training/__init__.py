"""radcurate training stage."""
