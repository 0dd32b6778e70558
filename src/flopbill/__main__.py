"""``python -m flopbill`` runs the CLI."""

from flopbill.cli import main

main()
