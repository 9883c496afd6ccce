-- Places: official COG names and kinds of communes, former codes, the articles of départements and
-- régions, where each declaration's place comes from, SIRENE's addresses (see sqlite/0003_lieux.sql).
ALTER TABLE regions ADD COLUMN type_liaison INTEGER;
ALTER TABLE departements ADD COLUMN type_liaison INTEGER;
ALTER TABLE communes ADD COLUMN type TEXT COLLATE "C" NOT NULL DEFAULT 'commune';
ALTER TABLE communes ADD COLUMN commune_parente TEXT COLLATE "C";
ALTER TABLE communes ADD COLUMN population INTEGER;
CREATE TABLE IF NOT EXISTS communes_anciennes (
    code_ancien TEXT COLLATE "C" PRIMARY KEY,
    code_insee  TEXT COLLATE "C" NOT NULL,
    nom         TEXT COLLATE "C"
);
ALTER TABLE declarations ADD COLUMN origine_lieu TEXT COLLATE "C" NOT NULL DEFAULT 'liste_publique';
ALTER TABLE declarations ADD COLUMN date_origine_lieu TEXT COLLATE "C";
UPDATE declarations SET origine_lieu = CASE
    WHEN code_commune_insee IS NOT NULL OR code_departement IS NOT NULL THEN 'liste_publique'
    ELSE 'aucune' END;
ALTER TABLE sirene ADD COLUMN adresse TEXT COLLATE "C";
ALTER TABLE sirene ADD COLUMN code_postal TEXT COLLATE "C";
ALTER TABLE sirene ADD COLUMN code_commune TEXT COLLATE "C";
ALTER TABLE sirene ADD COLUMN latitude DOUBLE PRECISION;
ALTER TABLE sirene ADD COLUMN longitude DOUBLE PRECISION;
ALTER TABLE sirene ADD COLUMN diffusion TEXT COLLATE "C";
