-- Places: official COG names and kinds of communes, former codes, the articles of départements and
-- régions, where each declaration's place comes from, SIRENE's addresses (issue: every organisation
-- placed where it really is). A directory built before keeps La Poste's names until its next build.
ALTER TABLE regions ADD COLUMN type_liaison INTEGER;
ALTER TABLE departements ADD COLUMN type_liaison INTEGER;
ALTER TABLE communes ADD COLUMN type TEXT NOT NULL DEFAULT 'commune';
ALTER TABLE communes ADD COLUMN commune_parente TEXT;
ALTER TABLE communes ADD COLUMN population INTEGER;
CREATE TABLE IF NOT EXISTS communes_anciennes (
    code_ancien TEXT PRIMARY KEY,
    code_insee  TEXT NOT NULL,
    nom         TEXT
);
ALTER TABLE declarations ADD COLUMN origine_lieu TEXT NOT NULL DEFAULT 'liste_publique';
ALTER TABLE declarations ADD COLUMN date_origine_lieu TEXT;
UPDATE declarations SET origine_lieu = CASE
    WHEN code_commune_insee IS NOT NULL OR code_departement IS NOT NULL THEN 'liste_publique'
    ELSE 'aucune' END;
CREATE TABLE IF NOT EXISTS sirene (
    siret               TEXT PRIMARY KEY,
    etat_administratif  TEXT,
    date_fermeture      TEXT,
    denomination        TEXT,
    activite_principale TEXT,
    etat_unite_legale   TEXT,
    date_verification   TEXT NOT NULL,
    api                 TEXT NOT NULL
) WITHOUT ROWID;
ALTER TABLE sirene ADD COLUMN adresse TEXT;
ALTER TABLE sirene ADD COLUMN code_postal TEXT;
ALTER TABLE sirene ADD COLUMN code_commune TEXT;
ALTER TABLE sirene ADD COLUMN latitude REAL;
ALTER TABLE sirene ADD COLUMN longitude REAL;
ALTER TABLE sirene ADD COLUMN diffusion TEXT;
