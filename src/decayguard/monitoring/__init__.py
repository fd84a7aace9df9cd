"""decayguard.monitoring: drift, data quality and performance statistics (pure, no I/O)."""
