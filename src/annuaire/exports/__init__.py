"""Bulk exports following the data.gouv.fr publishing conventions."""
