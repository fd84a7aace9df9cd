"""Prefect flows, deployments and the local Prefect stack (thin adapters over the core)."""
