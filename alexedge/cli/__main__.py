"""``python -m alexedge.cli``: the same as the ``alexedge`` command."""

from alexedge.cli import main

main()
