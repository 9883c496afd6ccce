-- Corrections and their moderation: a file of its own (WAL), never replaced by builds and updates.
CREATE TABLE IF NOT EXISTS corrections (
    id              INTEGER PRIMARY KEY,
    organisme       TEXT NOT NULL,   -- the organisation's id (id_organisme) when the correction was sent
    nda             TEXT,            -- its main NDA then (finds it again if its id changes)
    denomination    TEXT,            -- its name then, for the moderators
    champ           TEXT NOT NULL,   -- denomination, adresse, code_postal, commune, siret
    valeur_actuelle TEXT,            -- the value shown when the correction was sent
    valeur          TEXT NOT NULL,   -- the proposed value
    message         TEXT NOT NULL DEFAULT '',
    email           TEXT NOT NULL,
    statut          TEXT NOT NULL DEFAULT 'en_attente'
                    CHECK (statut IN ('en_attente', 'approuvee', 'rejetee')),
    cree_le         TEXT NOT NULL,   -- ISO 8601 UTC
    decide_le       TEXT,
    decide_par      TEXT
);
CREATE INDEX IF NOT EXISTS corrections_statut ON corrections(statut, cree_le);
CREATE INDEX IF NOT EXISTS corrections_organisme ON corrections(organisme, statut);
CREATE INDEX IF NOT EXISTS corrections_nda ON corrections(nda, statut);

CREATE TABLE IF NOT EXISTS moderateurs (
    nom         TEXT PRIMARY KEY,
    mot_de_passe TEXT NOT NULL,      -- scrypt$n$r$p$salt$hash
    cree_le     TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS sessions (
    jeton_hash  TEXT PRIMARY KEY,    -- SHA-256 of the session token (the cookie holds it signed)
    moderateur  TEXT NOT NULL REFERENCES moderateurs(nom) ON DELETE CASCADE,
    cree_le     TEXT NOT NULL,
    expire_le   TEXT NOT NULL
);

-- Audit log: every moderation action and every login, failed ones too.
CREATE TABLE IF NOT EXISTS journal (
    id          INTEGER PRIMARY KEY,
    date        TEXT NOT NULL,
    moderateur  TEXT,
    action      TEXT NOT NULL,       -- connexion, connexion_refusee, deconnexion, approbation, rejet
    correction_id INTEGER,
    detail      TEXT                 -- JSON
);
CREATE INDEX IF NOT EXISTS journal_date ON journal(date);

CREATE TABLE IF NOT EXISTS reglages (
    cle     TEXT PRIMARY KEY,
    valeur  TEXT NOT NULL
);
