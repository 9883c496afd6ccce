"""Commune resolution against the real La Poste base (annuaire.clean.commune).

The resolver is built once per session from ../shared/data/reference (fixture `resolver`).
"""

from __future__ import annotations

import pytest

from annuaire.clean.commune import city_key, loose_key

PARIS_ARRONDISSEMENTS = {f"751{n:02d}" for n in range(1, 21)}


def test_city_key():
    assert city_key("Saint-Étienne-du-Rouvray Cedex 2") == "SAINT ETIENNE DU ROUVRAY"
    assert city_key("ST AVOLD") == city_key("Saint-Avold") == "SAINT AVOLD"
    assert city_key("STE ANNE") == "SAINTE ANNE"
    assert city_key("Paris CEDEX 07") == "PARIS"
    assert loose_key("LA BAULE ESCOUBLAC") == loose_key("BAULE ESCOUBLAC")


def test_reference_is_complete(reference, resolver):
    assert len(resolver.communes) > 34_000
    assert resolver.region_of("75") == "11"
    assert resolver.region_of("2A") == "94"
    assert resolver.region_of("971") == "01"
    assert "13211" in resolver.communes and resolver.communes["13211"].postcodes == ("13011",)


@pytest.mark.parametrize(
    ("postcode", "city", "insee"),
    [
        ("75008", "PARIS 08", "75108"),
        ("75008", "PARIS", "75108"),
        ("75008", "Paris 8e", "75108"),
        ("75016", "PARIS 16", "75116"),
        ("75116", "PARIS", "75116"),
        ("13011", "MARSEILLE 11", "13211"),
        ("13011", "MARSEILLE", "13211"),
        ("69003", "LYON 03", "69383"),
        ("69003", "Lyon", "69383"),
        ("57500", "ST AVOLD", "57606"),
        ("57500", "Saint-Avold", "57606"),
        ("57500", "SAINT AVOLD", "57606"),
        ("57500", "saint avold", "57606"),
        ("57500", "St-Avold", "57606"),
        ("57500", "ST AVOLD CEDEX", "57606"),
        ("42000", "Saint-Étienne", "42218"),
        ("42000", "SAINT ETIENNE", "42218"),
        ("42000", "st étienne", "42218"),
        ("13100", "Aix-en-Provence", "13001"),
        ("13100", "AIX EN PROVENCE", "13001"),
        ("97227", "STE ANNE", "97226"),  # Martinique
        ("97180", "Sainte-Anne", "97128"),  # Guadeloupe: same name, other postal code
        ("20000", "AJACCIO", "2A004"),
        ("20200", "BASTIA", "2B033"),
        ("01000", "BOURG EN BRESSE", "01053"),
        ("44000", "NANTES CEDEX 1", "44109"),
    ],
)
def test_resolve_postcode_and_name(resolver, postcode, city, insee):
    found = resolver.resolve(postcode, city)
    assert found.insee == insee, found
    assert found.departement == resolver.communes[insee].departement
    assert postcode in resolver.postcodes_of(insee) or found.method != "code_postal_et_nom"


def test_paris_cedex_with_another_arrondissement_postcode(resolver):
    found = resolver.resolve("75012", "Paris CEDEX 07")
    assert found.insee in PARIS_ARRONDISSEMENTS
    assert found.departement == "75"


@pytest.mark.parametrize(
    "city", ["ST AVOLD", "St Avold", "Saint-Avold", "SAINT-AVOLD", "saint–avold", "Sãint Avold"]
)
def test_case_accents_and_hyphens_do_not_matter(resolver, city):
    assert resolver.resolve("57500", city).insee == "57606"


@pytest.mark.parametrize(
    ("postcode", "city", "departement"),
    [
        ("57500", "TOULOUSE", "57"),
        ("69003", "TOULOUSE", "69"),
        ("13100", "LILLE", "13"),
        ("33000", "STRASBOURG", "33"),
        ("20000", "BASTIA", "2A"),
        ("97227", "PARIS", "972"),
    ],
)
def test_city_not_matching_postcode_keeps_postcode_departement(resolver, postcode, city, departement):
    found = resolver.resolve(postcode, city)
    assert found.departement == departement, found
    if found.insee:
        assert found.insee.startswith(departement[:2])
        assert resolver.region_of(found.departement) == resolver.region_of(departement)


def test_cedex_postcode_unknown_to_la_poste_uses_the_name_in_the_departement(resolver):
    found = resolver.resolve("44941", "NANTES CEDEX 9")
    assert (found.insee, found.departement) == ("44109", "44")
    found = resolver.resolve("57999", "ST AVOLD")
    assert (found.insee, found.departement) == ("57606", "57")


def test_name_without_postcode(resolver):
    assert resolver.resolve(None, "ST AVOLD").insee == "57606"


def test_postcode_without_name(resolver):
    found = resolver.resolve("57500", "")
    assert found.departement == "57"
    if found.insee:
        assert "57500" in resolver.postcodes_of(found.insee)


def test_unknown_postcode_gives_its_departement(resolver):
    found = resolver.resolve("57999", "")
    assert (found.insee, found.departement) == (None, "57")


def test_nothing_usable(resolver):
    assert resolver.resolve(None, "").insee is None
    assert resolver.resolve("99999", "NULLE PART").insee is None
    assert resolver.resolve(None, "NULLE PART DU TOUT").departement is None


def test_resolution_is_memoised_and_pure(resolver):
    first = resolver.resolve("57500", "ST AVOLD")
    assert resolver.resolve("57500", "ST AVOLD") == first
