"""Triggers run by the Airflow triggerer for iamflow's deferrable operators."""
