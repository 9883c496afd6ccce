"""Search over the directory: full text, filters, geography, facets, map clusters.

`params` says what a query is and checks it (pure), `text` and `geo` hold the pure helpers,
`columns` holds the search table in memory and turns filters into masks, facets and orders,
`base` is the interface the web and API read through, `sqlite` its SQLite implementation and
`postgres` its PostgreSQL one.
"""

from .base import DirectoryUnavailable, Searcher
from .params import ClusterQuery, QueryError, SearchQuery

__all__ = ["ClusterQuery", "DirectoryUnavailable", "QueryError", "SearchQuery", "Searcher", "open_searcher"]


def open_searcher(location: str) -> Searcher:
    """The searcher for a store location: a SQLite file path, or a `postgresql://…` URL."""
    from ..store import is_postgres

    if is_postgres(location):
        from .postgres import PostgresSearcher

        return PostgresSearcher(location)
    from .sqlite import SQLiteSearcher

    return SQLiteSearcher(location)
