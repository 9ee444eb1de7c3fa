"""Subcommands of the ``hatang`` console script, one module each (see ``hatang.cli``)."""
