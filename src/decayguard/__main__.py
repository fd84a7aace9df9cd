"""``python -m decayguard`` runs the CLI."""

from decayguard.cli import main

main()
