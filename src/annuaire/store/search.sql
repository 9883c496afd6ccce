-- Search-side tables, derived from the directory's tables after every build or location change.
-- They hold nothing that is not elsewhere: narrow rows that the search engine loads into memory
-- (search/columns.py) for filters, facets, ranking and map clusters.
-- `fold(text)` is a SQL function registered by the store (store/sqlite.py), as are the math
-- functions when SQLite was built without them.
DROP TABLE IF EXISTS recherche;
DROP TABLE IF EXISTS organisme_specialites;
DROP TABLE IF EXISTS codes_postaux;

-- Specialities per organisation (from all its declarations), for the filter and the facet.
CREATE TABLE organisme_specialites (
    organisme_id INTEGER NOT NULL,
    code         TEXT NOT NULL,
    PRIMARY KEY (organisme_id, code)
) WITHOUT ROWID;

-- Filled by store/sqlite.py (ORGANISATION_SPECIALITIES), for all organisations or some.

-- One row per organisation (same id). `nom` is the folded name (upper case, no accents, no
-- punctuation) that exact-name and name-prefix ranking compare with the folded query.
CREATE TABLE recherche (
    id                        INTEGER PRIMARY KEY,
    nom                       TEXT NOT NULL,
    completude                INTEGER NOT NULL,   -- higher = more complete record (ranking tie-break)
    actions_formation         INTEGER NOT NULL,
    bilans_competences        INTEGER NOT NULL,
    vae                       INTEGER NOT NULL,
    apprentissage             INTEGER NOT NULL,
    certifie                  INTEGER NOT NULL,
    code_departement          TEXT,
    code_region               TEXT,
    code_commune_insee        TEXT,
    code_postal               TEXT,
    statut                    TEXT NOT NULL,
    date_derniere_declaration TEXT,
    latitude                  REAL,
    longitude                 REAL,
    mx                        REAL,               -- Web Mercator x in [0, 1), for map clusters
    my                        REAL                -- Web Mercator y in [0, 1), north at 0
);

-- Filled by store/sqlite.py (SEARCH_ROWS), for all organisations or some (after an update).

-- Postal code → communes it serves (La Poste), for "around 69003" and the postal-code filter.
CREATE TABLE codes_postaux (
    code_postal TEXT NOT NULL,
    code_insee  TEXT NOT NULL,
    PRIMARY KEY (code_postal, code_insee)
) WITHOUT ROWID;

INSERT OR IGNORE INTO codes_postaux
SELECT j.value, c.code_insee
FROM communes c, json_each('["' || replace(c.codes_postaux, ' ', '","') || '"]') j
WHERE c.codes_postaux <> '';
