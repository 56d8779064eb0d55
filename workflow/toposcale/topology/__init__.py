"""Topology: point clouds, Vietoris-Rips persistence, diagram metrics, summaries and subsampling."""
