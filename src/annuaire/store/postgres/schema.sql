-- Annuaire PostgreSQL schema: the tables of schema.sql (SQLite), in a schema of their own. A build loads
-- them into a fresh schema that is then renamed into place (store/postgres.py). Text compares and sorts
-- byte by byte (COLLATE "C"), as in SQLite, whatever the database's locale. Foreign keys are not
-- declared: SQLite does not enforce them either, and the loader writes tables in its own order.

-- Folded search words of a text: upper case, no accents, only A-Z and 0-9, as a tsvector of
-- whole words (no parser, no stemming: FTS5's semantics). Immutable so that a column can use it.
CREATE FUNCTION search_words(value text) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT array_to_tsvector(array_remove(regexp_split_to_array(
        upper(public.unaccent('public.unaccent'::regdictionary, value)), '[^A-Z0-9]+'), ''))
$$;

CREATE TABLE meta (
    key   TEXT COLLATE "C" PRIMARY KEY,
    value TEXT COLLATE "C"
);

-- Reference geography (COG, La Poste): used for names, filters and commune centroids.
CREATE TABLE regions (
    code         TEXT COLLATE "C" PRIMARY KEY,
    nom          TEXT COLLATE "C" NOT NULL,
    type_liaison INTEGER
);

CREATE TABLE departements (
    code         TEXT COLLATE "C" PRIMARY KEY,
    nom          TEXT COLLATE "C" NOT NULL,
    code_region  TEXT COLLATE "C",
    type_liaison INTEGER
);

CREATE TABLE communes (
    code_insee       TEXT COLLATE "C" PRIMARY KEY,
    nom              TEXT COLLATE "C" NOT NULL,      -- the COG's official name
    codes_postaux    TEXT COLLATE "C" NOT NULL,      -- space-separated
    code_departement TEXT COLLATE "C" NOT NULL,
    code_region      TEXT COLLATE "C",
    latitude         DOUBLE PRECISION,
    longitude        DOUBLE PRECISION,
    type             TEXT COLLATE "C" NOT NULL DEFAULT 'commune',
    commune_parente  TEXT COLLATE "C",
    population       INTEGER
);

CREATE TABLE communes_anciennes (
    code_ancien TEXT COLLATE "C" PRIMARY KEY,
    code_insee  TEXT COLLATE "C" NOT NULL,
    nom         TEXT COLLATE "C"
);

-- One establishment, possibly declared under several NDAs (merged on its SIRET).
CREATE TABLE organismes (
    id                        BIGINT PRIMARY KEY,
    identifiant               TEXT COLLATE "C" NOT NULL UNIQUE,   -- SIRET when valid, else "NDA" + first NDA
    siret                     TEXT COLLATE "C",
    siren                     TEXT COLLATE "C",
    denomination              TEXT COLLATE "C" NOT NULL,
    nom_comparaison           TEXT COLLATE "C" NOT NULL,
    nda_principal             TEXT COLLATE "C" NOT NULL,          -- the declaration shown (most recent)
    voie                      TEXT COLLATE "C",
    code_postal               TEXT COLLATE "C",
    ville                     TEXT COLLATE "C",
    code_commune_insee        TEXT COLLATE "C",
    commune                   TEXT COLLATE "C",
    code_departement          TEXT COLLATE "C",
    code_region               TEXT COLLATE "C",
    type_adresse              TEXT COLLATE "C" NOT NULL,
    date_derniere_declaration TEXT COLLATE "C",
    nb_declarations           INTEGER NOT NULL,
    regroupement              TEXT COLLATE "C" NOT NULL,          -- why declarations were merged: siret, nom_code_postal, seul
    statut                    TEXT COLLATE "C" NOT NULL DEFAULT 'actif'
);

CREATE TABLE declarations (
    nda                        TEXT COLLATE "C" PRIMARY KEY,
    organisme_id               BIGINT NOT NULL,
    enregistrement             INTEGER NOT NULL,
    ligne                      INTEGER NOT NULL,
    denomination               TEXT COLLATE "C" NOT NULL,
    siret                      TEXT COLLATE "C",
    siret_brut                 TEXT COLLATE "C",
    siret_statut               TEXT COLLATE "C" NOT NULL,
    siren                      TEXT COLLATE "C",
    siren_brut                 TEXT COLLATE "C",
    siren_incoherent           INTEGER NOT NULL,
    voie                       TEXT COLLATE "C",
    code_postal                TEXT COLLATE "C",
    ville                      TEXT COLLATE "C",
    code_commune_insee         TEXT COLLATE "C",
    commune                    TEXT COLLATE "C",
    code_departement           TEXT COLLATE "C",
    code_region                TEXT COLLATE "C",
    code_region_declare        TEXT COLLATE "C",
    methode_commune            TEXT COLLATE "C" NOT NULL,
    type_adresse               TEXT COLLATE "C" NOT NULL,
    certification_actions_formation   INTEGER,
    certification_bilans_competences  INTEGER,
    certification_vae                 INTEGER,
    certification_apprentissage       INTEGER,
    etranger_denomination      TEXT COLLATE "C",
    etranger_voie              TEXT COLLATE "C",
    etranger_code_postal       TEXT COLLATE "C",
    etranger_ville             TEXT COLLATE "C",
    etranger_pays              TEXT COLLATE "C",
    date_derniere_declaration  TEXT COLLATE "C",
    debut_exercice             TEXT COLLATE "C",
    fin_exercice               TEXT COLLATE "C",
    nb_stagiaires              INTEGER,
    nb_stagiaires_confies      INTEGER,
    effectif_formateurs        INTEGER,
    colonnes_supplementaires   TEXT COLLATE "C",                  -- unknown source columns, as JSON
    statut                     TEXT COLLATE "C" NOT NULL DEFAULT 'actif',
    origine_lieu               TEXT COLLATE "C" NOT NULL DEFAULT 'liste_publique',  -- see schema.sql
    date_origine_lieu          TEXT COLLATE "C"
);

-- Previous NDAs stay findable: "which declaration replaced 11750204482?"
CREATE TABLE ndas_precedents (
    nda_precedent TEXT COLLATE "C" NOT NULL,
    nda           TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (nda_precedent, nda)
);

CREATE TABLE portees (
    code    TEXT COLLATE "C" PRIMARY KEY,
    libelle TEXT COLLATE "C" NOT NULL
);

-- Qualiopi scope held by an organisation, with the declaration (NDA) that brings it.
CREATE TABLE certifications (
    organisme_id BIGINT NOT NULL,
    portee       TEXT COLLATE "C" NOT NULL,
    nda          TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (organisme_id, portee, nda)
);

CREATE TABLE specialites (
    code    TEXT COLLATE "C" PRIMARY KEY,   -- NSF code
    libelle TEXT COLLATE "C" NOT NULL
);

CREATE TABLE declaration_specialites (
    nda  TEXT COLLATE "C" NOT NULL,
    rang INTEGER NOT NULL,
    code TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (nda, rang)
);

-- Coordinates of a declaration's address (filled by the geocoding stage).
CREATE TABLE localisations (
    nda         TEXT COLLATE "C" PRIMARY KEY,
    latitude    DOUBLE PRECISION,
    longitude   DOUBLE PRECISION,
    geo_score   DOUBLE PRECISION,
    geo_type    TEXT COLLATE "C",
    geo_label   TEXT COLLATE "C",
    geo_methode TEXT COLLATE "C" NOT NULL   -- ban, sirene, centroide_commune, aucun
);

-- What each declaration looked like in the source, for updates: a record whose fingerprint is known is
-- unchanged and is not cleaned again. `nom_comparaison` keeps the de-duplication key at hand.
CREATE TABLE empreintes (
    nda             TEXT COLLATE "C" PRIMARY KEY,
    brute           TEXT COLLATE "C" NOT NULL,   -- hash of the record's fields as read
    nom_comparaison TEXT COLLATE "C" NOT NULL
);

-- Change log: what changed in which declaration and organisation, and when (written by updates).
CREATE TABLE historique (
    id           BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    date         TEXT COLLATE "C" NOT NULL,      -- ISO 8601 date of the update that saw the change
    organisme_id BIGINT,
    nda          TEXT COLLATE "C",
    evenement    TEXT COLLATE "C" NOT NULL,      -- ajout, modification, suppression, organisme_supprime, organisme_regroupe
    champs       TEXT COLLATE "C"                -- JSON: the groups of fields that changed, or the organisation merged into
);
CREATE INDEX historique_organisme ON historique(organisme_id, date);

-- Secondary sources (pipeline/reconcile.py): each source read, each of its rows' match, and which
-- source said what about an organisation (`conflit` = 1 when it contradicts the Liste publique).
CREATE TABLE sources_secondaires (
    nom              TEXT COLLATE "C" PRIMARY KEY,
    libelle          TEXT COLLATE "C" NOT NULL,
    emplacement      TEXT COLLATE "C" NOT NULL,
    format           TEXT COLLATE "C",
    statut           TEXT COLLATE "C" NOT NULL,
    date_observation TEXT COLLATE "C",
    sha256           TEXT COLLATE "C",
    lignes           INTEGER NOT NULL,
    rapprochees      INTEGER NOT NULL,
    erreur           TEXT COLLATE "C"
);

CREATE TABLE correspondances (
    source       TEXT COLLATE "C" NOT NULL,
    ligne        INTEGER NOT NULL,
    organisme_id BIGINT,
    methode      TEXT COLLATE "C" NOT NULL,
    motif        TEXT COLLATE "C",
    siret        TEXT COLLATE "C",
    nda          TEXT COLLATE "C",
    denomination TEXT COLLATE "C",
    PRIMARY KEY (source, ligne)
);
CREATE INDEX correspondances_organisme ON correspondances(organisme_id);

CREATE TABLE provenance (
    organisme_id     BIGINT NOT NULL,
    champ            TEXT COLLATE "C" NOT NULL,
    source           TEXT COLLATE "C" NOT NULL,
    valeur           TEXT COLLATE "C" NOT NULL,
    date_observation TEXT COLLATE "C",
    conflit          INTEGER NOT NULL DEFAULT 0,
    ligne            INTEGER
);
CREATE INDEX provenance_organisme ON provenance(organisme_id);

-- SIRENE's answer for an establishment (`annuaire sirene`).
CREATE TABLE sirene (
    siret               TEXT COLLATE "C" PRIMARY KEY,
    etat_administratif  TEXT COLLATE "C",
    date_fermeture      TEXT COLLATE "C",
    denomination        TEXT COLLATE "C",
    activite_principale TEXT COLLATE "C",
    etat_unite_legale   TEXT COLLATE "C",
    date_verification   TEXT COLLATE "C" NOT NULL,
    api                 TEXT COLLATE "C" NOT NULL,
    adresse             TEXT COLLATE "C",
    code_postal         TEXT COLLATE "C",
    code_commune        TEXT COLLATE "C",
    latitude            DOUBLE PRECISION,
    longitude           DOUBLE PRECISION,
    diffusion           TEXT COLLATE "C"
);

CREATE TABLE quarantaine (
    enregistrement             BIGINT PRIMARY KEY,
    ligne                      INTEGER NOT NULL,
    numero_declaration_activite TEXT COLLATE "C",
    motif                      TEXT COLLATE "C" NOT NULL,
    detail                     TEXT COLLATE "C",
    brut                       TEXT COLLATE "C" NOT NULL     -- the raw record, as a JSON array
);


-- What SQLite's FTS5 table holds (one row per organisation, `rowid` = its id), plus the words it is
-- searched by: upper case, accents removed (unaccent), split on anything but letters and digits,
-- as `fold` does in Python and FTS5's unicode61 tokenizer in SQLite. No stemming, as in SQLite.
CREATE TABLE organismes_fts (
    rowid        BIGINT PRIMARY KEY,
    denomination TEXT COLLATE "C",
    commune      TEXT COLLATE "C",
    identifiants TEXT COLLATE "C",
    mots         tsvector GENERATED ALWAYS AS (
        search_words(coalesce(denomination, '') || ' ' || coalesce(commune, '') || ' ' || coalesce(identifiants, ''))
    ) STORED
);

-- Search-side tables (search.sql in SQLite), filled from the tables above after the bulk load and after
-- every location change (store/postgres.py). `lieu` is the location as a PostGIS geography (GiST index)
-- for radius searches; the rest is what search/columns.py loads into memory.
CREATE TABLE organisme_specialites (
    organisme_id BIGINT NOT NULL,
    code         TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (organisme_id, code)
);

CREATE TABLE recherche (
    id                        BIGINT PRIMARY KEY,
    nom                       TEXT COLLATE "C" NOT NULL,
    completude                INTEGER NOT NULL,
    actions_formation         INTEGER NOT NULL,
    bilans_competences        INTEGER NOT NULL,
    vae                       INTEGER NOT NULL,
    apprentissage             INTEGER NOT NULL,
    certifie                  INTEGER NOT NULL,
    code_departement          TEXT COLLATE "C",
    code_region               TEXT COLLATE "C",
    code_commune_insee        TEXT COLLATE "C",
    code_postal               TEXT COLLATE "C",
    statut                    TEXT COLLATE "C" NOT NULL,
    date_derniere_declaration TEXT COLLATE "C",
    latitude                  DOUBLE PRECISION,
    longitude                 DOUBLE PRECISION,
    mx                        DOUBLE PRECISION,
    my                        DOUBLE PRECISION,
    lieu                      public.geography(Point, 4326)
);

CREATE TABLE codes_postaux (
    code_postal TEXT COLLATE "C" NOT NULL,
    code_insee  TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (code_postal, code_insee)
);

-- Schema migrations applied to this directory (store/migrations.py); a build starts at the latest.
CREATE TABLE schema_version (
    version    INTEGER PRIMARY KEY,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
