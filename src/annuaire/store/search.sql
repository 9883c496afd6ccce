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

INSERT OR IGNORE INTO organisme_specialites
SELECT d.organisme_id, s.code FROM declaration_specialites s JOIN declarations d ON d.nda = s.nda
ORDER BY 1, 2;

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

INSERT INTO recherche
SELECT o.id,
       fold(o.denomination),
       (CASE WHEN s.portees > 0 THEN 2 ELSE 0 END) + (o.type_adresse = 'voie') + (o.siret IS NOT NULL)
         + (l.geo_methode = 'ban')
         + EXISTS (SELECT 1 FROM organisme_specialites x WHERE x.organisme_id = o.id),
       coalesce(s.af, 0), coalesce(s.bc, 0), coalesce(s.vae, 0), coalesce(s.app, 0),
       coalesce(s.portees, 0) > 0,
       o.code_departement, o.code_region, o.code_commune_insee, o.code_postal, o.statut,
       o.date_derniere_declaration,
       l.latitude, l.longitude,
       CASE WHEN l.longitude IS NOT NULL THEN (l.longitude + 180.0) / 360.0 END,
       (1.0 - ln(tan(radians(l.latitude)) + 1.0 / cos(radians(l.latitude))) / pi()) / 2.0
FROM organismes o
LEFT JOIN localisations l ON l.nda = o.nda_principal
LEFT JOIN (
    SELECT organisme_id,
           max(portee = 'actions_formation') AS af, max(portee = 'bilans_competences') AS bc,
           max(portee = 'vae') AS vae, max(portee = 'apprentissage') AS app, count(*) AS portees
    FROM certifications GROUP BY organisme_id
) s ON s.organisme_id = o.id
ORDER BY o.id;

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
