"""``python -m beadline.workflows`` runs the ``beadline`` command line."""

from beadline.workflows.cli import main

main()
