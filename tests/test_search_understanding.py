"""Search that understands what people type (issue 18): the lexicon of needs and scopes, the reading
of a query (need, scope, "certified", place, name), spelling, and the search and API answers built
on them, on both backends."""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from collections import Counter

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from annuaire.clean.names import fold
from annuaire.gazetteer import Gazetteer
from annuaire.search import SearchQuery, open_searcher
from annuaire.search.interpret import PLACE, read, words_of
from annuaire.search.lexicon import (
    CERTIFIED,
    FILLER,
    SCOPE,
    SPECIALITY,
    Lexicon,
    LexiconError,
    default_lexicon,
    singular,
    term_key,
)
from annuaire.search.params import SCOPES, Filters, QueryError
from annuaire.search.spelling import Speller, likelihood, trigrams, trigrams_needed

LEXICON = default_lexicon()

# -- the lexicon ---------------------------------------------------------------------------------------


def test_the_issues_examples_mean_their_specialities_and_scopes():
    examples = {
        "secourisme": "344",
        "SST": "344",
        "sauveteur secouriste": "344",
        "incendie": "344",
        "anglais": "136",
        "espagnol": "136",
        "FLE": "136",
        "langues": "136",
        "Excel": "324",
        "bureautique": "324",
        "secrétariat": "324",
        "cariste": "311",
        "CACES": "311",
        "logistique": "311",
        "habilitation électrique": "255",
        "aide-soignant": "331",
    }
    for typed, code in examples.items():
        entry = LEXICON.by_key[term_key(typed)]
        assert entry.kind == SPECIALITY and entry.codes[0] == code, typed
    scopes = {
        "bilan de compétences": "bilans_competences",
        "bilans de compétences": "bilans_competences",
        "VAE": "vae",
        "validation des acquis": "vae",
        "apprentissage": "apprentissage",
        "alternance": "apprentissage",
        "CFA": "apprentissage",
    }
    for typed, scope in scopes.items():
        entry = LEXICON.by_key[term_key(typed)]
        assert (entry.kind, entry.codes) == (SCOPE, (scope,)), typed
    for typed in ("qualiopi", "certifié", "certifiées"):
        assert LEXICON.by_key[term_key(typed)].kind == CERTIFIED
    assert LEXICON.by_key[term_key("formation")].kind == FILLER


def test_every_nsf_group_label_and_every_entry_is_reachable_and_sourced():
    assert len(LEXICON.groups) >= 90
    for code, label in LEXICON.groups.items():
        assert code in LEXICON.by_key[term_key(label)].codes, label
    for entry in LEXICON.entries:
        assert entry.source.strip() and entry.terms
        assert all(code in LEXICON.groups for code in entry.codes) or entry.kind != SPECIALITY
    # Every speciality of the Liste publique's NSF groups that the directory uses has words.
    assert {"136", "344", "324", "311", "255", "331", "314", "336", "221", "415"} <= {
        c
        for e in LEXICON.entries
        if e.kind == SPECIALITY and e.source != "NSF : libellé du groupe"
        for c in e.codes
    }


def test_a_term_with_two_meanings_or_an_unknown_code_is_refused():
    groups = '[groupes_nsf]\n"136" = "Langues vivantes"\n"344" = "Sécurité"\n'
    with pytest.raises(LexiconError, match="means two things"):
        Lexicon.from_toml(
            groups + '[[specialite]]\ncodes = ["136"]\ntermes = ["anglais"]\nsource = "a"\n'
            '[[specialite]]\ncodes = ["344"]\ntermes = ["Anglais"]\nsource = "b"\n'
        )
    with pytest.raises(LexiconError, match="codes NSF inconnus"):
        Lexicon.from_toml(groups + '[[specialite]]\ncodes = ["999"]\ntermes = ["x"]\nsource = "a"\n')
    with pytest.raises(LexiconError, match="source"):
        Lexicon.from_toml(groups + '[[specialite]]\ncodes = ["136"]\ntermes = ["anglais"]\n')
    with pytest.raises(LexiconError, match="portée"):
        Lexicon.from_toml(groups + '[[portee]]\nportee = "cours"\ntermes = ["x"]\nsource = "a"\n')


def french_plural(word: str) -> str:
    if not word.isalpha() or len(word) <= 2 or word[-1] in "sxzSXZ":
        return word
    if word.lower().endswith("eau") or word.lower().endswith("eu"):
        return word + "x"
    if word.lower().endswith("al") and len(word) > 3:
        return word[:-2] + "aux"
    return word + "s"


def no_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


TERMS = sorted(
    {
        (term, entry.kind, entry.codes)
        for entry in LEXICON.entries
        for term in entry.terms
        if term_key(term) and LEXICON.by_key.get(term_key(term)) is entry
    }
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(TERMS),
    st.booleans(),
    st.booleans(),
    st.sampled_from(["", "d'", "l'", "de ", "des ", "pour "]),
    st.sampled_from(["lower", "upper", "title", "same"]),
)
def test_plural_accent_case_and_elision_variants_find_the_same_entry(
    term_info, plural, accents, before, case
):
    term, kind, codes = term_info
    variant = " ".join(french_plural(w) for w in term.split(" ")) if plural else term
    variant = no_accents(variant) if accents else variant
    variant = before + variant
    variant = {"lower": variant.lower(), "upper": variant.upper(), "title": variant.title()}.get(
        case, variant
    )
    found = LEXICON.find([w.folded for w in words_of(variant)])
    assert found, variant
    entry = found[-1].entry
    assert entry.kind == kind and (set(entry.codes) & set(codes) or not codes), (term, variant, entry)


def test_a_linking_word_written_as_a_plural_still_links():
    """Found by the property test above: "unes" read as a word made "animer une formation" miss its
    entry and fall to the generic "formations"."""
    assert term_key("animers unes formations") == term_key("animer une formation") == ("ANIMER", "FORMATION")
    found = LEXICON.find([w.folded for w in words_of("animers unes formations")])
    assert found and found[-1].entry.kind == "specialite"


@given(st.sampled_from(sorted({w for e in LEXICON.entries for t in e.terms for w in fold(t).split()})))
def test_singular_reads_a_word_and_its_plural_alike(word):
    plural = fold(french_plural(word.lower()))
    assert singular(plural) == singular(word)


# -- reading a query -----------------------------------------------------------------------------------

COMMUNES = [
    # the communes table's columns: code, name, postal codes, département, région, lat, lon, kind,
    # parent city, population
    ("69123", "Lyon", "", "69", None, 45.76, 4.84, "commune", None, 520000),
    ("69381", "Lyon 1er Arrondissement", "69001", "69", None, 45.77, 4.83, "arrondissement", "69123", 30000),
    ("69383", "Lyon 3e Arrondissement", "69003", "69", None, 45.76, 4.85, "arrondissement", "69123", 100000),
    ("13055", "Marseille", "", "13", None, 43.3, 5.37, "commune", None, 870000),
    (
        "13201",
        "Marseille 1er Arrondissement",
        "13001",
        "13",
        None,
        43.3,
        5.38,
        "arrondissement",
        "13055",
        40000,
    ),
    ("33063", "Bordeaux", "33000 33100 33200 33300 33800", "33", None, 44.84, -0.58, "commune", None, 260000),
    ("71270", "Mâcon", "71000", "71", None, 46.31, 4.83, "commune", None, 33000),
    ("59544", "Santes", "59211", "59", None, 50.59, 2.96, "commune", None, 5600),
    ("29019", "Brest", "29200", "29", None, 48.39, -4.49, "commune", None, 140000),
    ("03001", "Abrest", "03200", "03", None, 46.1, 3.44, "commune", None, 2800),
    ("93066", "Saint-Denis", "93200", "93", None, 48.93, 2.36, "commune", None, 113000),
    ("97411", "Saint-Denis", "97400", "974", None, -20.88, 55.45, "commune", None, 150000),
    ("80136", "By", "80800", "80", None, 49.9, 2.5, "commune", None, 300),
]
GAZETTEER = Gazetteer(COMMUNES, [], [("33", "Gironde"), ("69", "Rhône"), ("35", "Ille-et-Vilaine")])


def reading(q: str):
    return read(words_of(q), LEXICON, GAZETTEER, source=unicodedata.normalize("NFC", q))


def parts(q: str) -> list[tuple[str, str, str]]:
    r = reading(q)
    return [
        (p.kind, r.shown(p.positions), p.place.code if p.place else ",".join(p.entry.codes)) for p in r.parts
    ]


@pytest.mark.parametrize(
    "q, expected",
    [
        ("anglais Lyon", [("specialite", "anglais", "136"), (PLACE, "Lyon", "69123")]),
        ("comptabilité 33000", [("specialite", "comptabilité", "314"), (PLACE, "33000", "33000")]),
        ("VAE à Marseille", [("portee", "VAE", "vae"), (PLACE, "à Marseille", "13055")]),
        ("Lyon anglais", [(PLACE, "Lyon", "69123"), ("specialite", "anglais", "136")]),
        ("cariste 69003", [("specialite", "cariste", "311"), (PLACE, "69003", "69003")]),
        ("anglais Lyon 3e", [("specialite", "anglais", "136"), (PLACE, "Lyon 3e", "69383")]),
        ("anglais Gironde", [("specialite", "anglais", "136"), (PLACE, "Gironde", "33")]),
        ("formation maçon", [("outil", "formation", ""), ("specialite", "maçon", "232")]),
        ("plomberie Santes", [("specialite", "plomberie", "233"), (PLACE, "Santes", "59544")]),
        ("mécanique auto à Brest", [("specialite", "mécanique auto", "252"), (PLACE, "à Brest", "29019")]),
        ("formation CACES 1 3 5", [("outil", "formation", ""), ("specialite", "CACES", "311")]),
        ("permis B Y", [("specialite", "permis B", "311")]),
        (
            "qualiopi bilan de compétences",
            [("certifie", "qualiopi", ""), ("portee", "bilan de compétences", "bilans_competences")],
        ),
    ],
)
def test_a_query_is_read_as_a_need_a_scope_and_a_place(q, expected):
    assert parts(q) == expected


def test_what_is_not_understood_is_the_words_of_a_name():
    r = reading("greta anglais Lyon")
    assert [r.words[i].typed for i in r.residual] == ["greta"] and not r.understood
    assert reading("anglais Lyon").understood and reading("Lyon").understood
    assert not reading("formation").understood  # a filler alone is searched in names
    assert not reading("sanlo rh").understood


def test_a_part_taken_out_keeps_the_rest_as_typed():
    r = reading("anglais à Saint-Denis")
    need, place = r.parts
    assert r.text(without=need) == "à Saint-Denis"
    assert r.text(without=place) == "anglais"
    assert place.place.code == "97411" and [o.code for o in place.others] == ["93066"]  # most populated
    weighted = read(words_of("anglais Saint-Denis"), LEXICON, GAZETTEER, {"93066": 40, "97411": 3})
    assert weighted.place.place.code == "93066"  # the namesake with most organisations
    assert (
        reading("Saint-Denis anglais").text(without=reading("Saint-Denis anglais").needs[0]) == "Saint-Denis"
    )


@settings(max_examples=300)
@given(st.text(max_size=200))
def test_any_text_is_read_without_error_and_each_word_has_one_meaning_at_most(text):
    r = reading(text)
    covered = [i for p in r.parts for i in p.positions]
    assert len(covered) == len(set(covered))
    assert not set(covered) & set(r.residual)
    assert all(0 <= i < len(r.words) for i in covered + list(r.residual))
    r.text()


# -- spelling ------------------------------------------------------------------------------------------

VOCABULARY = Counter(
    {
        "FORMATION": 300,
        "FORMATIONS": 40,
        "AFPA": 200,
        "GRETA": 150,
        "BIVOSKILLGI": 1,
        "LISO": 1,
        "LIO": 5,
        "EXIL": 3,
        "AURANCE": 2,
        "DIT": 9,
        "SECURITE": 90,
    }
)
SPELLER = Speller(
    VOCABULARY, ({"SECOURISME", "EXCEL", "ASSURANCE", "DROIT", "ANGLAIS"}, {"MARSEILLE", "LYON"})
)


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("FORMATON", "FORMATION"),
        ("AFPAA", "AFPA"),
        ("SECOURISEM", "SECOURISME"),
        ("ANGLIAS", "ANGLAIS"),
        ("MARSEILE", "MARSEILLE"),
        ("EXEL", "EXCEL"),  # the lexicon's word before a name's
        ("ASURANCE", "ASSURANCE"),  # one letter of a double dropped is a likely slip
        ("DRIT", "DROIT"),
        ("BIVOSKILGI", "BIVOSKILLGI"),
        ("BIOVSKILGLI", "BIVOSKILLGI"),  # two edits for a long word
    ],
)
def test_a_mistyped_word_is_corrected_towards_the_nearest_known_word(typed, expected):
    assert not SPELLER.known(typed)
    assert SPELLER.candidates(typed)[0][0] == expected


def test_digits_short_words_and_known_prefixes_are_not_corrected():
    assert SPELLER.candidates("75001234500011") == []
    assert SPELLER.candidates("SST") == []
    assert SPELLER.known("FORMA") and SPELLER.unknown(["FORMA", "GRET", "12345"]) == []
    assert likelihood("ANGLIAS", "ANGLAIS") < likelihood("EXEL", "EXIL")


WORDS = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=5, max_size=12)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(WORDS, min_size=1, max_size=30, unique=True), st.data())
def test_one_edit_away_the_word_is_always_among_the_candidates(vocabulary, data):
    """The trigram prefilter never loses a word within one edit (the bound it relies on)."""
    speller = Speller(dict.fromkeys(vocabulary, 1))
    word = data.draw(st.sampled_from(vocabulary))
    k = data.draw(st.integers(0, len(word) - 2))
    op = data.draw(st.sampled_from(["drop", "swap", "replace", "insert"]))
    letter = data.draw(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    typed = {
        "drop": word[:k] + word[k + 1 :],
        "swap": word[:k] + word[k + 1] + word[k] + word[k + 2 :],
        "replace": word[:k] + letter + word[k + 1 :],
        "insert": word[:k] + letter + word[k:],
    }[op]
    assume(typed != word and len(typed) >= 4 and not speller.known(typed))
    within_one = [w for w, d in speller._within(typed, 1, needed=trigrams_needed(typed, 1))]
    assert word in within_one
    assert trigrams("FORMA") == ["$FO", "FOR", "ORM", "RMA", "MA$"]


def test_a_word_repeating_a_trigram_is_found_one_swap_away():
    """Found by the property above: AAACBAAA shares one distinct trigram (AAA, twice) with
    AAABCAAA; asking as many shared trigrams as letters less four lost it."""
    speller = Speller({"AAABCAAA": 1, "FORMATION": 1})
    assert [w for w, _ in speller._within("AAACBAAA", 1, needed=trigrams_needed("AAACBAAA", 1))] == [
        "AAABCAAA"
    ]
    assert speller.candidates("AAACBAAA")[0] == ("AAABCAAA", 1)


# -- searching the sample, on both backends -----------------------------------------------------------


@pytest.fixture(scope="module")
def sample_facts(sample_build):
    """Facts of the sample directory the tests build their queries from."""
    conn = sqlite3.connect(f"file:{sample_build.db}?mode=ro", uri=True)
    facts = {
        "names": [
            row[0]
            for row in conn.execute(
                """SELECT nom FROM recherche WHERE statut = 'actif'
                   GROUP BY nom HAVING count(*) = 1 ORDER BY nom"""
            )
        ],
        "with_136": {
            row[0]
            for row in conn.execute(
                """SELECT o.identifiant FROM organismes o
                   JOIN organisme_specialites s ON s.organisme_id = o.id
                   WHERE s.code = '136' AND o.statut = 'actif'"""
            )
        },
        "siret": conn.execute("SELECT siret FROM organismes WHERE siret IS NOT NULL LIMIT 1").fetchone()[0],
    }
    conn.close()
    return facts


def search(searcher, q: str, **extra) -> dict:
    return searcher.search(SearchQuery(Filters(q=q, **extra.pop("filters", {})), **extra).checked())


def test_a_need_and_a_place_are_understood_in_the_api(backend_api_client):
    body = backend_api_client.get(
        "/api/v1/organismes", params={"q": "anglais Paris", "facettes": "true"}
    ).json()
    meant = body["interpretation"]
    assert meant["lecture"] == "criteres"
    assert [s["codes"][0] for s in meant["specialites"]] == ["136"]
    assert meant["specialites"][0]["libelle_court"] == "Langues vivantes"
    assert meant["lieu"]["type"] == "ville" and meant["lieu"]["code"] == "75056"
    assert meant["lieu"]["sans"] == "anglais" and meant["specialites"][0]["sans"] == "Paris"
    assert body["total"] > 0
    facets = body["facettes"]
    assert facets["certifie"]["oui"] + facets["certifie"]["non"] == body["total"]  # facets still add up
    assert sum(d["nombre"] for d in facets["departements"]) == body["total"]
    assert {d["code"] for d in facets["departements"]} == {"75"}
    assert all(r["code_commune_insee"].startswith("751") for r in body["resultats"])
    # Removing a part widens the search.
    wider = backend_api_client.get("/api/v1/organismes", params={"q": meant["lieu"]["sans"]}).json()
    assert wider["total"] > body["total"]


def test_a_need_finds_its_speciality_certified_first_names_holding_the_words_first(
    backend_searcher, sample_facts
):
    answer = search(backend_searcher, "langues", par_page=100)
    assert answer["total"] >= len(sample_facts["with_136"])
    results = answer["resultats"]
    has = [r["id_organisme"] in sample_facts["with_136"] for r in results]
    named = [bool(re.search(r"\bLANGUE", fold(r["denomination"]))) for r in results]
    # tiers: the speciality and the word in the name, then the speciality, then the name alone
    tier = [0 if h and n else 1 if h else 2 for h, n in zip(has, named, strict=True)]
    assert tier == sorted(tier) and tier[0] == 0
    certified = [any(r[f"certification_{s}"] for s in SCOPES) for r in results]
    for t in (0, 1):
        chunk = [c for c, x in zip(certified, tier, strict=True) if x == t]
        assert chunk == sorted(chunk, reverse=True)  # certified first within a tier


def test_a_name_alone_still_finds_the_name_first(backend_searcher, sample_facts):
    for name in sample_facts["names"][::97][:12]:
        answer = search(backend_searcher, name.lower())
        assert fold(answer["resultats"][0]["denomination"]) == name, name


def test_a_mistyped_name_is_found_and_the_correction_said(backend_api_client, sample_facts):
    found = 0
    tried = 0
    for name in sample_facts["names"]:
        words = name.split()
        long = [w for w in words if len(w) >= 6 and w.isalpha()]
        if not long or tried >= 15:
            continue
        word = long[0]
        typed = name.replace(word, word[:2] + word[3] + word[2] + word[4:], 1).lower()  # two letters swapped
        body = backend_api_client.get("/api/v1/organismes", params={"q": typed}).json()
        tried += 1
        top = [fold(r["denomination"]) for r in body["resultats"][:5]]
        if name in top:
            found += 1
            assert body["interpretation"]["corrections"] or typed.upper() == name
    assert tried >= 10 and found >= 0.8 * tried
    exact = backend_api_client.get(
        "/api/v1/organismes", params={"q": "formaton", "correction": "false"}
    ).json()
    assert exact["interpretation"]["corrections"] == [] and exact["total"] == 0
    corrected = backend_api_client.get("/api/v1/organismes", params={"q": "formaton"}).json()
    assert corrected["interpretation"]["texte_corrige"] == "formation" and corrected["total"] > 0
    assert corrected["interpretation"]["corrections"] == [{"mot": "formaton", "correction": "formation"}]


def test_identifiers_are_matched_exactly_never_corrected(backend_api_client, sample_facts):
    siret = sample_facts["siret"]
    body = backend_api_client.get("/api/v1/organismes", params={"q": siret}).json()
    assert body["total"] >= 1 and body["interpretation"]["lecture"] == "identifiant"
    wrong = siret[:-1] + str((int(siret[-1]) + 1) % 10)
    other = backend_api_client.get("/api/v1/organismes", params={"q": wrong}).json()
    assert (
        other["interpretation"]["lecture"] == "identifiant" and other["interpretation"]["corrections"] == []
    )
    assert all(r["siret"] != siret for r in other["resultats"])


def test_an_empty_search_says_what_to_drop_and_counts_it(backend_api_client):
    body = backend_api_client.get("/api/v1/organismes", params={"q": "VAE Marseille"}).json()
    assert body["total"] == 0
    reasons = {s["raison"]: s for s in body["suggestions"]}
    assert {"sans_lieu", "sans_portee"} <= set(reasons)
    for s in body["suggestions"]:
        again = backend_api_client.get("/api/v1/organismes", params={"q": s["q"]}).json()
        assert again["total"] == s["total"] > 0


BAD = [
    "de la",
    "le",
    "!!!",
    "'; DROP TABLE organismes; --",
    "' OR 1=1 --",
    '"formation" OR NEAR(a b)',
    "formation*",
    "denomination: afpa",
    "a" * 200,
    "é" * 200,
    "lyon " * 40,
    "\u0000\u200b",
]


@pytest.mark.parametrize("q", BAD)
def test_bad_input_gets_a_french_422_or_an_answer_never_a_500(backend_api_client, q):
    answer = backend_api_client.get("/api/v1/organismes", params={"q": q})
    assert answer.status_code in (200, 422), answer.text
    if answer.status_code == 422:
        assert re.search(r"mot|caractères|attendu", answer.text)
    page = backend_api_client.get("/recherche", params={"q": q})
    assert page.status_code in (200, 422) and "Rechercher un organisme" in page.text
    assert backend_api_client.get("/suggestions", params={"q": q}).status_code == 200


def test_stop_words_or_punctuation_alone_say_why(api_client):
    answer = api_client.get("/api/v1/organismes", params={"q": "de la"})
    assert answer.status_code == 422
    assert "mots trop courants" in answer.json()["detail"][0]["msg"]
    page = api_client.get("/recherche", params={"q": "?!"})
    assert page.status_code == 422 and "aucun mot ni chiffre" in page.text


def test_both_backends_understand_alike(sample_build, sample_postgres, sample_facts):
    sqlite_side, postgres_side = open_searcher(str(sample_build.db)), open_searcher(sample_postgres)
    queries = [
        "anglais paris",
        "langues",
        "formaton",
        "secourisem lyon",
        "vae marseille",
        "bilan de compétences",
        "qualiopi",
        "Lyon",
        "anglais Gironde",
        "greta anglais paris",
        "formation excel avancé",
        *[n.lower() for n in sample_facts["names"][::150]],
        *[n[:3] + n[4:] for n in sample_facts["names"][::211] if len(n) > 6],
    ]
    try:
        for q in queries:
            for extra in ({}, {"facettes": True, "par_page": 100}, {"tri": "nom"}):
                a = search(sqlite_side, q, **dict(extra))
                b = search(postgres_side, q, **dict(extra))
                assert a == b, q
    finally:
        postgres_side.close()


def test_query_errors_are_query_errors(sample_searcher):
    with pytest.raises(QueryError):
        search(sample_searcher, "de la")


# -- the search page -----------------------------------------------------------------------------------


def tree(response):
    import lxml.html

    return lxml.html.fromstring(response.text)


def page_total(doc) -> int:
    heading = doc.xpath("//h2[@id='resultats-titre']")[0].text_content()
    found = re.match(r"[\d\u202f ]+", heading)
    return int(found.group(0).replace("\u202f", "").replace(" ", "")) if found else 0


def test_the_page_shows_what_it_understood_as_removable_chips(api_client):
    doc = tree(api_client.get("/recherche", params={"q": "anglais paris"}))
    chips = doc.xpath("//div[@class='understood']//a[contains(@class, 'chip')]")
    assert [" ".join(c.text_content().split()) for c in chips] == ["Langues vivantes ×", "Paris ×"]
    assert [c.get("aria-label") for c in chips] == [
        "Retirer « Langues vivantes » de la recherche",
        "Retirer « Paris » de la recherche",
    ]
    total = page_total(doc)
    for chip in chips:
        wider = tree(api_client.get(chip.get("href")))
        assert page_total(wider) > total  # removing a chip widens the search
    assert [c.get("href") for c in chips] == ["/recherche?q=paris", "/recherche?q=anglais"]


def test_the_page_says_the_corrected_spelling_and_links_the_words_as_typed(api_client):
    doc = tree(api_client.get("/recherche", params={"q": "formaton"}))
    said = " ".join(doc.xpath("//p[@class='spelling']")[0].text_content().split())
    assert said == "Résultats pour « formation ». Rechercher plutôt « formaton »"
    exact = doc.xpath("//a[@id='orthographe-exacte']")[0].get("href")
    assert exact == "/recherche?q=formaton&correction=non"
    typed = tree(api_client.get(exact))
    assert not typed.xpath("//p[@class='spelling']") and page_total(typed) == 0
    assert "Essayez d'autres mots" in typed.text_content()  # no filter, no radius: no word of them


def test_an_empty_page_offers_searches_that_find_something(api_client):
    doc = tree(api_client.get("/recherche", params={"q": "vae marseille", "departement": "13"}))
    text = " ".join(doc.text_content().split())
    assert "Essayez moins de filtres ou d'autres mots." in text
    offers = doc.xpath("//ul[@class='suggested']//a")
    assert offers and all("departement=13" in a.get("href") for a in offers)
    for a in offers:
        assert page_total(tree(api_client.get(a.get("href")))) > 0


def test_the_search_box_suggests_the_corrected_spelling_and_the_search_understood(api_client):
    found = api_client.get("/suggestions", params={"q": "formaton"}).json()
    assert found["recherches"][0]["nom"] == "formation"
    assert found["recherches"][0]["url"] == "/recherche?q=formation"
    assert found["recherches"][0]["detail"].startswith("orthographe corrigée")
    understood = api_client.get("/suggestions", params={"q": "anglais paris"}).json()
    assert understood["recherches"][0]["nom"] == "Langues vivantes · Paris"
    assert api_client.get("/suggestions", params={"q": "de"}).json()["recherches"] == []
