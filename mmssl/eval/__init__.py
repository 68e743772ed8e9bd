"""Evaluation: retrieval metrics, zero-shot retrieval, linear probes, reports."""
