"""Annuaire: a directory of French training organisations built from data.gouv.fr open data."""

__version__ = "0.1.0"
