"""Secondary sources published as PDF tables: read with pdfplumber (the PDFs are written here with fpdf2
from the real Datadock list), a table over several pages with its header repeated and a title above,
cells wrapping over several lines, and PDFs that hold no table or cannot be read."""

from __future__ import annotations

import csv
import json
import sqlite3

import pytest
from fpdf import FPDF
from hypothesis import given, settings
from hypothesis import strategies as st

from annuaire.clean.text import normalise_space
from annuaire.errors import InputError
from annuaire.pipeline.build import build
from annuaire.sources.extra import SNAPSHOT, ExtraSource, load_source
from annuaire.sources.secondary import load_mapping, parse_mapping, parse_source, read_table
from annuaire.store import open_store


def pdf_table(
    rows: list[list[str]],
    *,
    title: str | None = None,
    widths: tuple[float, ...] | None = None,
    size: float = 7,
) -> bytes:
    """A landscape A4 PDF holding `rows` (the first is the header) as a ruled table, the header repeated
    at the top of every page, as a word processor or a spreadsheet prints a list."""
    pdf = FPDF(orientation="L", format="A4")
    pdf.set_font("helvetica", size=size)
    pdf.add_page()
    if title:
        pdf.set_font("helvetica", style="B", size=12)
        pdf.cell(text=title, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(4)
        pdf.set_font("helvetica", size=size)
    with pdf.table(col_widths=widths, text_align="LEFT", repeat_headings=1) as table:
        for values in rows:
            line = table.row()
            for value in values:
                line.cell(value)
    return bytes(pdf.output())


def text_pdf(paragraphs: list[str]) -> bytes:
    pdf = FPDF()
    pdf.set_font("helvetica", size=11)
    pdf.add_page()
    for paragraph in paragraphs:
        pdf.multi_cell(0, 6, paragraph, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def latin1(values: list[str]) -> bool:
    try:
        "".join(values).encode("latin-1")  # what the PDF's standard fonts can write
    except UnicodeEncodeError:
        return False
    return True


@pytest.fixture(scope="module")
def datadock_sample(shared_dir, real_extract_csv) -> list[list[str]]:
    """The real Datadock list's header, its first 300 rows and the rows of establishments in the real
    extract (so some match), in the file's order."""
    with (shared_dir / "data" / "real" / "datadock-qualiopi-2021-10.csv").open(encoding="utf-8") as fh:
        header, *rows = list(csv.reader(fh))
    with real_extract_csv.open(encoding="utf-8", newline="") as fh:
        sirets = {r["siretEtablissementDeclarant"] for r in csv.DictReader(fh, delimiter=";")} - {""}
    siret = header.index("siret")
    chosen = [r for n, r in enumerate(rows) if (n < 300 or r[siret] in sirets) and latin1(r)]
    assert sum(r[siret] in sirets for r in chosen) >= 4
    return [header, *chosen]


@pytest.mark.integration
def test_pdf_reads_like_its_csv(datadock_sample, tmp_path) -> None:
    # The names' column is narrow: long names wrap over two or three lines in their cells.
    data = pdf_table(
        datadock_sample,
        title="Organismes référencés dans Datadock - octobre 2021",
        widths=(40, 18, 26, 26, 60, 22, 20),
    )
    kind, header, rows = read_table(data, "datadock.pdf")
    assert kind == "pdf" and header == datadock_sample[0]
    assert len(rows) == len(datadock_sample) - 1  # every page's repeated header dropped
    assert [[r[h] for h in header] for r in rows] == [
        [normalise_space(c) for c in line] for line in datadock_sample[1:]
    ]
    assert any(len(r["RAISON_SOCIALE"]) > 60 for r in rows)  # names that wrapped came back whole


@pytest.mark.integration
def test_build_with_a_pdf_source_matches_as_with_its_csv(
    datadock_sample, real_extract_csv, reference, tmp_path, monkeypatch
) -> None:
    pdf = tmp_path / "datadock.pdf"
    pdf.write_bytes(pdf_table(datadock_sample, title="Datadock", widths=(40, 18, 26, 26, 60, 22, 20)))
    plain = tmp_path / "datadock.csv"
    with plain.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(datadock_sample)
    mapping = load_mapping("datadock")
    results = {}
    for kind, path in (("pdf", pdf), ("csv", plain)):
        monkeypatch.setenv("ANNUAIRE_CACHE_DIR", str(tmp_path / f"cache-{kind}"))
        db = tmp_path / f"{kind}.db"
        report = build(
            str(real_extract_csv),
            open_store(str(db)),
            reference,
            extra_sources=[ExtraSource(mapping, str(path))],
        )
        section = report["sources_secondaires"]["sources"]["datadock"]
        assert (section["status"], section["format"]) == ("frais", kind)
        with sqlite3.connect(db) as conn:
            provenance = conn.execute(
                """SELECT o.siret, p.champ, p.valeur, p.conflit, p.ligne FROM provenance p
                   JOIN organismes o ON o.id = p.organisme_id WHERE p.source = 'datadock'
                   ORDER BY o.siret, p.champ, p.ligne"""
            ).fetchall()
            matches = conn.execute(
                "SELECT ligne, methode, motif FROM correspondances WHERE source = 'datadock' ORDER BY ligne"
            ).fetchall()
        keep = (
            "rows",
            "matched",
            "by_method",
            "match_rate",
            "unmatched_reasons",
            "organisations_matched",
            "conflicts",
            "rows_with_issues",
        )
        results[kind] = ({k: section.get(k) for k in keep}, provenance, matches)
    assert results["pdf"] == results["csv"]
    summary, provenance, matches = results["pdf"]
    assert summary["rows"] == len(datadock_sample) - 1
    assert summary["by_method"]["siret"] >= 4 and provenance
    assert {champ for _, champ, *_ in provenance} >= {"siret", "denomination", "referencable"}


MAPPING = """
[source]
name = "icpf"
label = "ICPF"
certificateur = "ICPF"
[columns]
siret = "SIRET"
denomination = "Raison sociale"
portees = "Périmètre de certification"
date_expiration = "Date de fin de validité"
[values.portees]
actions_formation = ["Actions de formation"]
vae = ["VAE"]
"""


def test_cells_with_line_breaks_are_joined() -> None:
    rows = [
        ["SIRET", "Raison sociale", "Périmètre de\ncertification", "Date de fin\nde validité"],
        [
            "44229377500031",
            "INSTITUT DE FORMATION\nDU LIMOUSIN",
            "Actions de\nformation ;\nVAE",
            "31/12/2026",
        ],
        ["73282932000074", "ACME", "VAE", "01/02/2027"],
    ]
    data = pdf_table(rows, title="Liste des organismes certifiés")
    kind, records = parse_source(data, parse_mapping(MAPPING, "icpf.toml"), "icpf.pdf")
    assert kind == "pdf"
    first, second = records
    assert (first.siret, first.denomination) == ("44229377500031", "INSTITUT DE FORMATION DU LIMOUSIN")
    assert (first.portees, first.date_expiration) == (("actions_formation", "vae"), "2026-12-31")
    assert (second.line, second.portees, second.certificateur) == (2, ("vae",), "ICPF")


def test_pdf_without_a_table_is_an_error() -> None:
    data = text_pdf(["Liste des organismes certifiés", "Aucun organisme n'est certifié ce mois-ci."])
    with pytest.raises(InputError, match="no table found in the PDF") as caught:
        read_table(data, "vide.pdf")
    assert str(caught.value).startswith("vide.pdf")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"%PDF-1.7\n" + bytes(range(256)) * 8, "not a readable PDF"),
        (b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 9 0 R >>\n%%EOF\n", "PDF"),
        (b"siret;nda\n44229377500031;11755555575\n", "named .pdf but not a PDF"),
    ],
)
def test_unreadable_pdf_is_an_error(data: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message) as caught:
        read_table(data, "liste.pdf")
    assert str(caught.value).startswith("liste.pdf")


def test_unreadable_pdf_falls_back_to_the_last_good_snapshot(tmp_path) -> None:
    mapping = parse_mapping(MAPPING, "icpf.toml")
    rows = [["SIRET", "Raison sociale", "Périmètre de certification", "Date de fin de validité"]]
    rows += [["44229377500031", "ACME", "VAE", "31/12/2026"]]
    path = tmp_path / "icpf.pdf"
    path.write_bytes(pdf_table(rows))
    snapshots = tmp_path / "snapshots"
    good = load_source(ExtraSource(mapping, str(path)), snapshots=snapshots)
    assert (good.status, good.format, len(good.records)) == ("frais", "pdf", 1)
    path.write_bytes(path.read_bytes()[:400])  # a truncated download
    fallback = load_source(ExtraSource(mapping, str(path)), snapshots=snapshots)
    assert fallback.status == SNAPSHOT and fallback.records == good.records and fallback.format == "pdf"
    assert "icpf.pdf" in fallback.error
    assert json.loads((snapshots / "icpf" / "last-good.json").read_text())["sha256"] == good.sha256


LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyzéèàçôÉ0123456789-'.&()/"
words = st.text(alphabet=LETTERS, min_size=1, max_size=12)
cells = st.lists(words, min_size=0, max_size=6).map(" ".join)


@given(
    width=st.integers(min_value=1, max_value=5),
    body=st.lists(st.lists(cells, min_size=5, max_size=5), min_size=1, max_size=12),
)
@settings(max_examples=25, deadline=None)
def test_pdf_cells_come_back(width: int, body: list[list[str]]) -> None:
    header = [f"colonne {i}" for i in range(width)]
    body = [[row[0] or "x", *row[1:width]] for row in body]
    data = pdf_table([header, *body], widths=tuple([40] * width))
    kind, got_header, rows = read_table(data, "t.pdf")
    assert (kind, got_header) == ("pdf", header)
    assert [[r[h] for h in header] for r in rows] == body
