"""The export queries both backends run (store.organisations(), store.provenance()): written once,
with each backend's form of what differs (aggregates, PostgreSQL's byte collation `COLLATE "C"`;
SQLite compares bytes already)."""

from __future__ import annotations

from .place_sql import PLACE_PROVENANCE

# Every organisation with its NDAs, its scopes, its location and its main declaration's figures.
_ORGANISATIONS = """SELECT o.*, {ndas} AS ndas, {scopes} AS portees,
       l.latitude, l.longitude, l.geo_score, l.geo_type, l.geo_methode,
       p.debut_exercice, p.fin_exercice, p.nb_stagiaires, p.nb_stagiaires_confies,
       p.effectif_formateurs, p.origine_lieu, p.date_origine_lieu
FROM organismes o
LEFT JOIN localisations l ON l.nda = o.nda_principal
LEFT JOIN declarations p ON p.nda = o.nda_principal
ORDER BY o.identifiant{c}"""
ORGANISATIONS_EXPORT = _ORGANISATIONS.format(
    ndas="""(SELECT group_concat(d.nda, ' ') FROM
              (SELECT nda FROM declarations WHERE organisme_id = o.id ORDER BY nda) d)""",
    scopes="(SELECT group_concat(DISTINCT c.portee) FROM certifications c WHERE c.organisme_id = o.id)",
    c="",
)
ORGANISATIONS_EXPORT_PG = _ORGANISATIONS.format(
    ndas="""(SELECT string_agg(d.nda, ' ' ORDER BY d.nda COLLATE "C") FROM declarations d
              WHERE d.organisme_id = o.id)""",
    scopes="(SELECT string_agg(DISTINCT c.portee, ',') FROM certifications c WHERE c.organisme_id = o.id)",
    c=' COLLATE "C"',
)

# The sources recorded per organisation and the places SIRENE gave.
_PROVENANCE = """SELECT o.identifiant AS id_organisme, o.siret, p.champ, p.source, p.valeur,
       p.date_observation, p.conflit, p.ligne
FROM (SELECT * FROM provenance UNION ALL {places}) p
JOIN organismes o ON o.id = p.organisme_id
ORDER BY o.identifiant{c}, p.source{c}, p.champ{c}, coalesce(p.ligne, 0), p.valeur{c}"""
PROVENANCE_EXPORT = _PROVENANCE.format(places=PLACE_PROVENANCE, c="")
PROVENANCE_EXPORT_PG = _PROVENANCE.format(places=PLACE_PROVENANCE, c=' COLLATE "C"')
