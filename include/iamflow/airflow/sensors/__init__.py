"""Sensors of iamflow's DAGs (deferrable ones wait in the triggerer)."""
