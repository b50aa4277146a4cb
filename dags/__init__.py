"""radcurate dags stage."""
