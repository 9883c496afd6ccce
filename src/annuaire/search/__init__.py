"""Search over the directory: full text, filters, geography, facets, map clusters.

`params` says what a query is and checks it (pure), `text` and `geo` hold the pure helpers,
`columns` holds the search table in memory and turns filters into masks, facets and orders,
`base` is the interface the web and API read through, `searcher` its one implementation, whatever
the backend, and `queries` what that searcher asks its database: `sqlite` and `postgres` answer it,
each with its statements in its own dialect.
"""

from .base import DirectoryUnavailable, Searcher
from .params import ClusterQuery, QueryError, SearchQuery

__all__ = [
    "ClusterQuery",
    "DirectoryUnavailable",
    "QueryError",
    "SearchQuery",
    "Searcher",
    "open_searcher",
    "server_errors",
    "unavailable_errors",
]


def unavailable_errors() -> tuple[type[Exception], ...]:
    """Errors a read may raise when the directory's database is gone or not (yet) a directory: then
    `Searcher.available()` tells a vanished directory from a bug."""
    import sqlite3

    return (sqlite3.DatabaseError, OSError)


def server_errors() -> tuple[type[Exception], ...]:
    """A database server that cannot be reached, or a pool without a free connection."""
    try:
        import psycopg
        import psycopg_pool
    except ImportError:  # pragma: no cover - the PostgreSQL driver is a dependency
        return ()
    return (psycopg.OperationalError, psycopg_pool.PoolTimeout)


def open_searcher(location: str) -> Searcher:
    """The searcher for a store location: a SQLite file path, or a `postgresql://…` URL."""
    from ..store import is_postgres

    if is_postgres(location):
        from .postgres import PostgresSearcher

        return PostgresSearcher(location)
    from .sqlite import SQLiteSearcher

    return SQLiteSearcher(location)
