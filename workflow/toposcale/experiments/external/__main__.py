"""``python -m toposcale.experiments.external``: the command-line interface (see :func:`main`)."""
import sys

from toposcale.experiments.external.cli import main

sys.exit(main())
