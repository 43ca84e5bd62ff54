"""Imported only inside multiprocessing's forkserver (see lifeline.py): it ends with its parent."""

from .lifeline import die_with_parent

die_with_parent()
