-- The change log (written by `annuaire update`), for directories built before it existed.
CREATE TABLE IF NOT EXISTS historique (
    id           INTEGER PRIMARY KEY,
    date         TEXT NOT NULL,
    organisme_id INTEGER,
    nda          TEXT,
    evenement    TEXT NOT NULL,
    champs       TEXT
);
CREATE INDEX IF NOT EXISTS historique_organisme ON historique(organisme_id, date);
