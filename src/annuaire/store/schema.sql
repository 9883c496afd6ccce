-- Annuaire SQLite schema. One file holds the whole directory; it is built aside and swapped in.
PRAGMA user_version = 3;  -- store/migrations: the latest version

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT
);

-- Reference geography (COG, La Poste): used for names, filters and commune centroids.
-- `type_liaison`: the COG's TNCC, the article a name takes (0 "de Paris", 2 "du Rhône", 3 "de la
-- Somme", 4 "des Landes", 5 "de l'Ain"…), see places/articles.py.
CREATE TABLE regions (
    code         TEXT PRIMARY KEY,
    nom          TEXT NOT NULL,
    type_liaison INTEGER
);

CREATE TABLE departements (
    code         TEXT PRIMARY KEY,
    nom          TEXT NOT NULL,
    code_region  TEXT,
    type_liaison INTEGER
);

-- `type`: commune, arrondissement (of Paris, Lyon, Marseille), ville (those three cities);
-- `commune_parente`: an arrondissement's city; `population`: the COG's.
CREATE TABLE communes (
    code_insee       TEXT PRIMARY KEY,
    nom              TEXT NOT NULL,      -- the COG's official name (La Poste's spelling without the COG)
    codes_postaux    TEXT NOT NULL,      -- space-separated
    code_departement TEXT NOT NULL,
    code_region      TEXT,
    latitude         REAL,
    longitude        REAL,
    type             TEXT NOT NULL DEFAULT 'commune',
    commune_parente  TEXT,
    population       INTEGER
);

-- Codes of communes merged since (and of delegated or associated communes): today's commune.
CREATE TABLE communes_anciennes (
    code_ancien TEXT PRIMARY KEY,
    code_insee  TEXT NOT NULL,
    nom         TEXT                     -- the former commune's name, when known
);

-- One establishment, possibly declared under several NDAs (merged on its SIRET).
CREATE TABLE organismes (
    id                        INTEGER PRIMARY KEY,
    identifiant               TEXT NOT NULL UNIQUE,   -- SIRET when valid, else "NDA" + first NDA
    siret                     TEXT,
    siren                     TEXT,
    denomination              TEXT NOT NULL,
    nom_comparaison           TEXT NOT NULL,
    nda_principal             TEXT NOT NULL,          -- the declaration shown (most recent)
    voie                      TEXT,
    code_postal               TEXT,
    ville                     TEXT,
    code_commune_insee        TEXT,
    commune                   TEXT,
    code_departement          TEXT,
    code_region               TEXT,
    type_adresse              TEXT NOT NULL,
    date_derniere_declaration TEXT,
    nb_declarations           INTEGER NOT NULL,
    regroupement              TEXT NOT NULL,          -- why declarations were merged: siret, nom_code_postal, seul
    statut                    TEXT NOT NULL DEFAULT 'actif'
);

-- `origine_lieu`: where the place (commune, département, région) comes from: liste_publique (its own
-- address), sirene (the establishment's address in SIRENE, when its own gives no commune; dated by
-- `date_origine_lieu`, SIRENE's answer, its stock file's date), region_declaree (only the région it
-- declared), aucune. Those two columns come last, where `annuaire migrate` adds them. (No comment
-- inside the column list after them: SQLite's DROP COLUMN, which the migration tests use, trips on it.)
CREATE TABLE declarations (
    nda                        TEXT PRIMARY KEY,
    organisme_id               INTEGER NOT NULL REFERENCES organismes(id),
    enregistrement             INTEGER NOT NULL,
    ligne                      INTEGER NOT NULL,
    denomination               TEXT NOT NULL,
    siret                      TEXT,
    siret_brut                 TEXT,
    siret_statut               TEXT NOT NULL,
    siren                      TEXT,
    siren_brut                 TEXT,
    siren_incoherent           INTEGER NOT NULL,
    voie                       TEXT,
    code_postal                TEXT,
    ville                      TEXT,
    code_commune_insee         TEXT,
    commune                    TEXT,
    code_departement           TEXT,
    code_region                TEXT,
    code_region_declare        TEXT,
    methode_commune            TEXT NOT NULL,
    type_adresse               TEXT NOT NULL,
    certification_actions_formation   INTEGER,
    certification_bilans_competences  INTEGER,
    certification_vae                 INTEGER,
    certification_apprentissage       INTEGER,
    etranger_denomination      TEXT,
    etranger_voie              TEXT,
    etranger_code_postal       TEXT,
    etranger_ville             TEXT,
    etranger_pays              TEXT,
    date_derniere_declaration  TEXT,
    debut_exercice             TEXT,
    fin_exercice               TEXT,
    nb_stagiaires              INTEGER,
    nb_stagiaires_confies      INTEGER,
    effectif_formateurs        INTEGER,
    colonnes_supplementaires   TEXT,                  -- unknown source columns, as JSON
    statut                     TEXT NOT NULL DEFAULT 'actif',
    origine_lieu               TEXT NOT NULL DEFAULT 'liste_publique',
    date_origine_lieu          TEXT
);

-- Previous NDAs stay findable: "which declaration replaced 11750204482?"
CREATE TABLE ndas_precedents (
    nda_precedent TEXT NOT NULL,
    nda           TEXT NOT NULL REFERENCES declarations(nda),
    PRIMARY KEY (nda_precedent, nda)
) WITHOUT ROWID;

CREATE TABLE portees (
    code    TEXT PRIMARY KEY,
    libelle TEXT NOT NULL
);

-- Qualiopi scope held by an organisation, with the declaration (NDA) that brings it.
CREATE TABLE certifications (
    organisme_id INTEGER NOT NULL REFERENCES organismes(id),
    portee       TEXT NOT NULL REFERENCES portees(code),
    nda          TEXT NOT NULL REFERENCES declarations(nda),
    PRIMARY KEY (organisme_id, portee, nda)
) WITHOUT ROWID;

CREATE TABLE specialites (
    code    TEXT PRIMARY KEY,   -- NSF code
    libelle TEXT NOT NULL
);

CREATE TABLE declaration_specialites (
    nda  TEXT NOT NULL REFERENCES declarations(nda),
    rang INTEGER NOT NULL,
    code TEXT NOT NULL REFERENCES specialites(code),
    PRIMARY KEY (nda, rang)
) WITHOUT ROWID;

-- Coordinates of a declaration's address (filled by the geocoding stage).
CREATE TABLE localisations (
    nda         TEXT PRIMARY KEY REFERENCES declarations(nda),
    latitude    REAL,
    longitude   REAL,
    geo_score   REAL,
    geo_type    TEXT,
    geo_label   TEXT,
    geo_methode TEXT NOT NULL   -- ban, sirene, centroide_commune, aucun
);

-- What each declaration looked like in the source, for updates: a record whose fingerprint is known is
-- unchanged and is not cleaned again. `nom_comparaison` keeps the de-duplication key at hand.
CREATE TABLE empreintes (
    nda             TEXT PRIMARY KEY REFERENCES declarations(nda),
    brute           TEXT NOT NULL,   -- hash of the record's fields as read
    nom_comparaison TEXT NOT NULL
) WITHOUT ROWID;

-- Change log: what changed in which declaration and organisation, and when (written by updates).
CREATE TABLE historique (
    id           INTEGER PRIMARY KEY,
    date         TEXT NOT NULL,      -- ISO 8601 date of the update that saw the change
    organisme_id INTEGER,
    nda          TEXT,
    evenement    TEXT NOT NULL,      -- ajout, modification, suppression, organisme_supprime, organisme_regroupe
    champs       TEXT                -- JSON: the groups of fields that changed, or the organisation merged into
);
CREATE INDEX historique_organisme ON historique(organisme_id, date);

CREATE TABLE quarantaine (
    enregistrement             INTEGER PRIMARY KEY,
    ligne                      INTEGER NOT NULL,
    numero_declaration_activite TEXT,
    motif                      TEXT NOT NULL,
    detail                     TEXT,
    brut                       TEXT NOT NULL     -- the raw record, as a JSON array
);

-- Secondary sources (certifier and network lists) read by the build, and how their rows matched
-- (pipeline/reconcile.py). `statut`: frais, dernier_instantane (its location failed: last good
-- snapshot used), indisponible.
CREATE TABLE sources_secondaires (
    nom              TEXT PRIMARY KEY,
    libelle          TEXT NOT NULL,
    emplacement      TEXT NOT NULL,
    format           TEXT,
    statut           TEXT NOT NULL,
    date_observation TEXT,
    sha256           TEXT,
    lignes           INTEGER NOT NULL,
    rapprochees      INTEGER NOT NULL,
    erreur           TEXT
);

CREATE TABLE correspondances (
    source       TEXT NOT NULL,
    ligne        INTEGER NOT NULL,       -- data row number in the source (header excluded)
    organisme_id INTEGER,                -- NULL: matched nothing
    methode      TEXT NOT NULL,          -- siret, nda, nom_code_postal, aucune
    motif        TEXT,                   -- why unmatched
    siret        TEXT,
    nda          TEXT,
    denomination TEXT,
    PRIMARY KEY (source, ligne)
) WITHOUT ROWID;
CREATE INDEX correspondances_organisme ON correspondances(organisme_id);

-- Which source said what about an organisation, and when. The Liste publique's own values are
-- listed beside a secondary source's; `conflit` = 1 when a secondary value contradicts it.
CREATE TABLE provenance (
    organisme_id     INTEGER NOT NULL,
    champ            TEXT NOT NULL,
    source           TEXT NOT NULL,
    valeur           TEXT NOT NULL,
    date_observation TEXT,
    conflit          INTEGER NOT NULL DEFAULT 0,
    ligne            INTEGER               -- the source's row
);
CREATE INDEX provenance_organisme ON provenance(organisme_id);

-- SIRENE's answer for an establishment (`annuaire sirene`, `--sirene-stock`; `api`: recherche-entreprises,
-- insee or stock): open or closed, legal name, NAF code, and its address (what places a declaration whose own address gives no commune):
-- `adresse` the street line ("12 RUE DE LA PAIX", NULL when masked), `code_postal`, `code_commune`
-- (INSEE code), `latitude`/`longitude` (WGS 84, converted from Lambert-93 or INSEE's UTM zones
-- overseas), `diffusion` O (public) or P (partial diffusion: street and position masked). Those come
-- last, where `annuaire migrate` adds them, without comments (SQLite's DROP COLUMN trips on them).
CREATE TABLE sirene (
    siret               TEXT PRIMARY KEY,
    etat_administratif  TEXT,            -- A (active) or F (closed), or NULL: unknown to SIRENE
    date_fermeture      TEXT,
    denomination        TEXT,
    activite_principale TEXT,            -- NAF code
    etat_unite_legale   TEXT,            -- A or C (ceased)
    date_verification   TEXT NOT NULL,
    api                 TEXT NOT NULL,
    adresse             TEXT,
    code_postal         TEXT,
    code_commune        TEXT,
    latitude            REAL,
    longitude           REAL,
    diffusion           TEXT
) WITHOUT ROWID;

-- Prefix indexes for 2- and 3-character prefixes: what people have typed when the first results show
-- (a query word of two characters or more is a prefix, search/text.py).
CREATE VIRTUAL TABLE organismes_fts USING fts5(
    denomination, commune, identifiants,
    tokenize = "unicode61 remove_diacritics 2",
    prefix = '2 3'
);

CREATE VIRTUAL TABLE organismes_geo USING rtree(id, min_lat, max_lat, min_lon, max_lon);
