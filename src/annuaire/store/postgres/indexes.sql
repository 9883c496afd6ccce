-- PostgreSQL's own indexes, created after the bulk load with the shared ones (store/indexes.sql):
-- the full-text words and the spatial index.
CREATE INDEX organismes_fts_mots ON organismes_fts USING gin (mots);
CREATE INDEX recherche_lieu ON recherche USING gist (lieu);
