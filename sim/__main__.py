"""``python -m sim``: the ``embosim`` command (:func:`sim.cli.main`), for an environment without the console script."""

from .cli import main

main()
