"""The SQL of places (clean/places.py) over the directory's tables, shared by both backends and the
search: portable SQL, each statement with parameters written in both backends' forms."""

# The declarations SIRENE may place, read back from a directory (`stored_situation`'s fields).
PLACEABLE_SQL = """SELECT nda, siret, methode_commune, code_postal, code_region_declare, code_commune_insee,
       commune, code_departement, code_region, origine_lieu, date_origine_lieu
FROM declarations
WHERE siret IS NOT NULL AND (origine_lieu <> 'liste_publique' OR code_commune_insee IS NULL)"""
BOOK_SQL = (
    "SELECT code_insee, nom, code_departement, code_region, latitude, longitude FROM communes",
    "SELECT code_ancien, code_insee FROM communes_anciennes",
    "SELECT code, code_region FROM departements",
)
# Until an address is located, its commune's centroid (La Poste's position) is all there is; without
# one, no location (`BuildWriter.locate_at_commune_centroids`).
COMMUNE_CENTROIDS = """INSERT INTO localisations
    SELECT d.nda, c.latitude, c.longitude, NULL,
           CASE WHEN c.latitude IS NULL THEN NULL ELSE 'municipality' END,
           CASE WHEN c.latitude IS NULL THEN NULL ELSE c.nom END,
           CASE WHEN c.latitude IS NULL THEN 'aucun' ELSE 'centroide_commune' END
    FROM declarations d LEFT JOIN communes c ON c.code_insee = d.code_commune_insee
    WHERE NOT EXISTS (SELECT 1 FROM localisations l WHERE l.nda = d.nda)"""
# UPDATE of a declaration's place (parameters in `changes` order).
_PLACE_UPDATE = """UPDATE declarations SET code_commune_insee = {p}, commune = {p}, code_departement = {p},
       code_region = {p}, origine_lieu = {p}, date_origine_lieu = {p} WHERE nda = {p}"""
PLACE_UPDATE = _PLACE_UPDATE.format(p="?")
PLACE_UPDATE_PG = _PLACE_UPDATE.format(p="%s")
# The organisations shown by a declaration take its place again.
_SHOWN_PLACE_UPDATE = """UPDATE organismes SET
       code_commune_insee = (SELECT d.code_commune_insee FROM declarations d WHERE d.nda = {nda}),
       commune = (SELECT d.commune FROM declarations d WHERE d.nda = {nda}),
       code_departement = (SELECT d.code_departement FROM declarations d WHERE d.nda = {nda}),
       code_region = (SELECT d.code_region FROM declarations d WHERE d.nda = {nda})
WHERE nda_principal = {nda}"""
SHOWN_PLACE_UPDATE = _SHOWN_PLACE_UPDATE.format(nda="?1")
SHOWN_PLACE_UPDATE_PG = _SHOWN_PLACE_UPDATE.format(nda="%(nda)s")


# What the directory says of places in provenance (provenance.csv, the API, the page), derived from the
# `sirene` table and the declarations rather than stored: rows shaped like the `provenance` table's
# (organisme_id, champ, source, valeur, date_observation, conflit, ligne). For each organisation whose
# displayed declaration was placed by SIRENE: SIRENE's commune and address (not compared: the Liste
# publique gives none). For each whose own address gives a commune SIRENE contradicts: SIRENE's commune,
# a conflict (`concorde_liste_publique = false`), and the Liste publique's beside it. For each placed
# in its declared région only: that région, as the Liste publique declares it.
PLACE_PROVENANCE = """
SELECT o.id AS organisme_id, 'code_commune_insee' AS champ, 'sirene' AS source, s.code_commune AS valeur,
       s.date_verification AS date_observation,
       CASE WHEN d.origine_lieu = 'sirene' THEN NULL ELSE 1 END AS conflit, CAST(NULL AS INTEGER) AS ligne
FROM organismes o
JOIN declarations d ON d.nda = o.nda_principal
JOIN sirene s ON s.siret = o.siret
LEFT JOIN communes_anciennes a ON a.code_ancien = s.code_commune
LEFT JOIN communes c ON c.code_insee = coalesce(a.code_insee, s.code_commune)
WHERE s.code_commune IS NOT NULL AND (
    d.origine_lieu = 'sirene'
    OR (d.origine_lieu = 'liste_publique' AND d.code_commune_insee IS NOT NULL
        AND d.code_commune_insee <> coalesce(a.code_insee, s.code_commune)
        AND d.code_commune_insee <> coalesce(c.commune_parente, '')))
UNION ALL
SELECT o.id, 'adresse', 'sirene', coalesce(s.adresse || ' ', '') || coalesce(s.code_postal, ''),
       s.date_verification, NULL, NULL
FROM organismes o
JOIN declarations d ON d.nda = o.nda_principal
JOIN sirene s ON s.siret = o.siret
WHERE d.origine_lieu = 'sirene' AND (s.adresse IS NOT NULL OR s.code_postal IS NOT NULL)
UNION ALL
SELECT o.id, 'code_commune_insee', 'liste_publique', d.code_commune_insee, d.date_derniere_declaration, 0,
       NULL
FROM organismes o
JOIN declarations d ON d.nda = o.nda_principal
JOIN sirene s ON s.siret = o.siret
LEFT JOIN communes_anciennes a ON a.code_ancien = s.code_commune
LEFT JOIN communes c ON c.code_insee = coalesce(a.code_insee, s.code_commune)
WHERE s.code_commune IS NOT NULL AND d.origine_lieu = 'liste_publique' AND d.code_commune_insee IS NOT NULL
  AND d.code_commune_insee <> coalesce(a.code_insee, s.code_commune)
  AND d.code_commune_insee <> coalesce(c.commune_parente, '')
UNION ALL
SELECT o.id, 'code_region', 'liste_publique', d.code_region_declare, d.date_derniere_declaration, NULL, NULL
FROM organismes o
JOIN declarations d ON d.nda = o.nda_principal
WHERE d.origine_lieu = 'region_declaree'
"""
