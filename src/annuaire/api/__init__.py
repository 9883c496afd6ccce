"""The JSON API under /api/v1/ (FastAPI): search, organisations, territories, map clusters, stats."""

from .app import ApiSettings, create_app

__all__ = ["ApiSettings", "create_app"]
