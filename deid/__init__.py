"""radcurate deid stage."""
