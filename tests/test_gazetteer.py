"""The place resolver (annuaire.gazetteer), on the real reference (La Poste's base and the COG in
../shared/data/reference): official names typed any way, arrondissements and the cities of Paris,
Lyon and Marseille, codes read as their kind, ambiguous names as candidates, former communes, a place
at the end of a query, suggestions, and the COG's articles."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annuaire.clean.names import fold
from annuaire.gazetteer import (
    ARRONDISSEMENT,
    CENTRE_KINDS,
    CITY,
    COMMUNE,
    DEPARTEMENT,
    POSTCODE,
    Gazetteer,
    centre_error,
    in_name,
    of_name,
    place_key,
    with_article,
)
from annuaire.pipeline.load import commune_rows, former_rows


@pytest.fixture(scope="module")
def places(reference) -> Gazetteer:
    """What a directory built from the real reference holds (its `communes`, `communes_anciennes` and
    `departements` tables), as the searchers load it."""
    resolver = reference.communes
    return Gazetteer(
        list(commune_rows(resolver)),
        list(former_rows(resolver)),
        [(code, d["nom"]) for code, d in reference.departements.items()],
    )


def only(places: Gazetteer, text: str, kinds=CENTRE_KINDS):
    found = places.resolve(text, kinds)
    assert found.place is not None, (text, found)
    return found.place


@pytest.mark.parametrize(
    ("typed", "code", "name"),
    [
        ("Saint-Étienne", "42218", "Saint-Étienne"),
        ("saint etienne", "42218", "Saint-Étienne"),
        ("ST ETIENNE", "42218", "Saint-Étienne"),
        ("St-Étienne", "42218", "Saint-Étienne"),
        ("Saint-Malo", "35288", "Saint-Malo"),
        ("st malo", "35288", "Saint-Malo"),
        ("L'Haÿ-les-Roses", "94038", "L'Haÿ-les-Roses"),
        ("l hay les roses", "94038", "L'Haÿ-les-Roses"),
        ("lhay les roses", "94038", "L'Haÿ-les-Roses"),
        ("Sainte-Foy-lès-Lyon", "69202", "Sainte-Foy-lès-Lyon"),
        ("Ste Foy les Lyon", "69202", "Sainte-Foy-lès-Lyon"),
        ("Aix-en-Provence", "13001", "Aix-en-Provence"),
        ("aix en provence", "13001", "Aix-en-Provence"),
        ("Clermont-Ferrand", "63113", "Clermont-Ferrand"),
        ("Besançon", "25056", "Besançon"),
        ("BESANCON", "25056", "Besançon"),
    ],
)
def test_official_names_typed_any_way(places, typed, code, name):
    place = only(places, typed)
    assert (place.kind, place.code, place.nom, place.code_commune_insee) == (COMMUNE, code, name, code)
    assert place.latitude is not None and place.longitude is not None


@pytest.mark.parametrize(
    ("typed", "code", "city"),
    [
        ("Paris 11e", "75111", "75056"),
        ("paris 11", "75111", "75056"),
        ("PARIS 11", "75111", "75056"),
        ("Paris 11ème arrondissement", "75111", "75056"),
        ("Paris 1er", "75101", "75056"),
        ("Lyon 3e", "69383", "69123"),
        ("Lyon 3", "69383", "69123"),
        ("LYON 03", "69383", "69123"),
        ("Lyon 69003", "69383", "69123"),  # the city narrowed by a postal code
        ("Marseille 1er", "13201", "13055"),
        ("Marseille 16e Arrondissement", "13216", "13055"),
    ],
)
def test_arrondissements(places, typed, code, city):
    place = only(places, typed)
    assert (place.kind, place.code, place.ville) == (ARRONDISSEMENT, code, city)
    assert places.city_of(code) == city


@pytest.mark.parametrize(
    ("typed", "code", "arrondissements"),
    [("Paris", "75056", 20), ("Lyon", "69123", 9), ("Marseille", "13055", 16)],
)
def test_paris_lyon_marseille_are_cities_of_their_arrondissements(places, typed, code, arrondissements):
    place = only(places, typed)
    assert (place.kind, place.code, place.nom) == (CITY, code, typed)
    assert len(place.communes) == arrondissements + 1 and place.communes[0] == code
    assert {places.city_of(a) for a in place.communes[1:]} == {code}
    assert len(places.arrondissements(code)) == arrondissements
    assert place.latitude is not None  # the centre of its arrondissements
    # A commune filter on the city means its arrondissements too; an arrondissement means itself.
    assert set(places.communes_of(code)) == set(place.communes)
    assert places.communes_of(place.communes[1]) == (place.communes[1],)
    # "Paris" is also a département: the city answers, not a choice between the two.
    assert places.resolve(typed).place.kind == CITY


def test_codes_are_read_as_their_kind_never_as_another(places):
    # Five digits a postal code: La Poste's; a commune found by name keeps its INSEE code as such.
    postcode = only(places, "13001")
    assert (postcode.kind, postcode.code, postcode.nom) == (POSTCODE, "13001", "Marseille 1er Arrondissement")
    aix = only(places, "Aix-en-Provence")
    assert (aix.kind, aix.code) == (COMMUNE, "13001")
    assert abs(aix.latitude - 43.53) < 0.05 and abs(aix.longitude - 5.45) < 0.1  # Aix, not Marseille
    again = only(places, aix.choice())  # what a page offers to type: "Aix-en-Provence (13001)"
    assert again.code == "13001" and again.kind == COMMUNE
    for typed, code in (("2A004", "2A004"), ("2a004", "2A004"), ("97411", "97411"), ("69123", "69123")):
        assert places.resolve(typed).place.code == code, typed
    lyon3 = only(places, "69003")
    assert (lyon3.kind, lyon3.code_commune_insee, lyon3.communes) == (POSTCODE, "69383", ("69383",))
    assert places.resolve("99999").places == ()
    assert places.resolve("75", CENTRE_KINDS).places == ()  # a département is no centre
    assert places.resolve("75").place.kind == DEPARTEMENT


def test_former_codes_and_names_resolve_to_todays_commune(places):
    pierrefitte = places.resolve("93059")  # Pierrefitte-sur-Seine, in Saint-Denis since 2025
    assert (pierrefitte.place.code, pierrefitte.how) == ("93066", "ancien_code")
    assert places.resolve("69232").place.code == "69123"  # merged into Lyon long ago
    bellegarde = places.resolve("Bellegarde-sur-Valserine")  # a delegated commune of Valserhône
    assert (bellegarde.place.code, bellegarde.place.nom, bellegarde.how) == (
        "01033",
        "Valserhône",
        "ancien_nom",
    )
    assert places.commune("93059").code == "93066"


def test_ambiguous_names_give_every_candidate_never_a_guess(places):
    saint_denis = places.resolve("Saint-Denis", CENTRE_KINDS)
    assert saint_denis.ambiguous and saint_denis.place is None
    codes = [p.code for p in saint_denis.places]
    assert {"93066", "97411"} <= set(codes)
    assert codes.index("97411") < codes.index("11339")  # most populated first
    message = centre_error(saint_denis)
    assert "Saint-Denis (93066)" in message and "Saint-Denis (97411)" in message
    valence = places.resolve("Valence", CENTRE_KINDS)
    assert [p.code for p in valence.places][:2] == ["26362", "82186"]
    for typed, code in [
        ("Saint-Denis (93)", "93066"),
        ("Saint-Denis 974", "97411"),
        ("Saint-Denis, La Réunion", "97411"),
        ("Saint-Denis (Seine-Saint-Denis)", "93066"),
        ("Saint-Denis (93066)", "93066"),
        ("Valence, Drôme", "26362"),
        ("Valence (82)", "82186"),
        ("Valence 26000", "26362"),
    ]:
        assert only(places, typed).code == code, typed
    vienne = places.resolve("Vienne")  # a commune (38) and a département (86)
    assert {(p.kind, p.code) for p in vienne.places} == {(COMMUNE, "38544"), (DEPARTEMENT, "86")}
    assert only(places, "Vienne").code == "38544"  # as a centre, only the commune can be meant


def test_unknown_places_say_so(places):
    found = places.resolve("Nullepartville", CENTRE_KINDS)
    assert found.places == () and "lieu inconnu" in centre_error(found)
    assert places.resolve("   ").places == ()


def test_every_commune_is_found_by_its_own_name(places, reference):
    """Each commune, arrondissement and city answers to its official name, in capitals without accents
    too (La Poste's way), alone or among the candidates of its homonyms."""
    missed = []
    for c in reference.communes.communes.values():
        for typed in (c.name, fold(c.name)):
            found = places.resolve(typed)
            if c.insee not in {p.code for p in found.places}:
                missed.append((c.insee, typed, [p.code for p in found.places]))
    assert missed == []


@given(
    st.sampled_from(
        [
            "Saint-Étienne-du-Rouvray",
            "L'Haÿ-les-Roses",
            "Sainte-Foy-lès-Lyon",
            "Œuilly",
            "Paris 11e Arrondissement",
        ]
    ),
    st.data(),
)
@settings(max_examples=60, deadline=None)
def test_place_key_ignores_case_accents_and_punctuation(name, data):
    variant = data.draw(
        st.sampled_from(
            [name.upper(), name.lower(), fold(name), name.replace("-", " "), name.replace("-", "  - ")]
        )
    )
    assert place_key(variant) == place_key(name)
    assert place_key(place_key(name)) == place_key(name)


@pytest.mark.parametrize(
    ("query", "rest", "code"),
    [
        ("anglais Lyon", "anglais", "69123"),
        ("formation anglais Lyon 3e", "formation anglais", "69383"),
        ("cuisine Saint Etienne", "cuisine", "42218"),
        ("soudure 69003", "soudure", "69003"),
        ("bilan de compétences Saint-Denis (93)", "bilan de compétences", "93066"),
    ],
)
def test_a_place_at_the_end_of_a_query(places, query, rest, code):
    remaining, found = places.split_place(query)
    assert remaining == rest and found.place is not None and found.place.code == code


def test_a_query_without_a_place_stays_whole(places):
    assert places.split_place("sécurité incendie") == ("sécurité incendie", places.resolve(""))
    remaining, found = places.split_place("formation 24")  # a bare département code is not taken
    assert remaining == "formation 24" and found.places == ()
    remaining, found = places.split_place("anglais Saint-Denis")  # ambiguous: the caller asks which
    assert remaining == "anglais" and found.ambiguous


def test_suggestions(places):
    assert places.suggest("st eti")[0].code == "42218"
    assert [p.code for p in places.suggest("paris 1", limit=3, kinds=(ARRONDISSEMENT,))] != []
    weighted = places.suggest("saint", limit=3, weights={"35288": 5, "42218": 9})
    assert [p.code for p in weighted] == ["42218", "35288"]  # only those with a weight, heaviest first
    assert places.suggest("") == []


@pytest.mark.parametrize(
    ("code", "de", "le"),
    [
        ("69", "du Rhône", "le Rhône"),
        ("80", "de la Somme", "la Somme"),
        ("40", "des Landes", "les Landes"),
        ("01", "de l'Ain", "l'Ain"),
        ("75", "de Paris", "Paris"),
        ("28", "d'Eure-et-Loir", "Eure-et-Loir"),
    ],
)
def test_departements_take_the_cogs_article(reference, code, de, le):
    d = reference.departements[code]
    assert (of_name(d["nom"], d["type_liaison"]), with_article(d["nom"], d["type_liaison"])) == (de, le)


@pytest.mark.parametrize(
    ("code", "de", "en"),
    [
        ("11", "d'Île-de-France", "en Île-de-France"),
        ("44", "du Grand Est", "dans le Grand Est"),
        ("32", "des Hauts-de-France", "dans les Hauts-de-France"),
        ("75", "de la Nouvelle-Aquitaine", "en Nouvelle-Aquitaine"),
        ("53", "de Bretagne", "en Bretagne"),
        ("04", "de La Réunion", "à La Réunion"),
    ],
)
def test_regions_take_the_cogs_article(reference, code, de, en):
    r = reference.regions[code]
    assert (of_name(r["nom"], r["type_liaison"]), in_name(r["nom"], r["type_liaison"])) == (de, en)
