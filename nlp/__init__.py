"""radcurate nlp stage."""
