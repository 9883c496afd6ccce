"""The Liste publique reader on files written here: encodings, line ends, quoting, gzip, columns."""

from __future__ import annotations

import csv
import gzip
import io
import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annuaire.errors import InputError
from annuaire.sources.liste_publique import COLUMNS, FIELDS, INDEX
from annuaire.sources.reader import ListePubliqueReader, Record, detect_encoding

HEADER = [official for _, official in COLUMNS]
OFFICIAL = dict(COLUMNS)


def row(**values: str) -> dict[str, str]:
    """A record by short field name; the fields not given are empty."""
    base = {
        "nda": "11755555575",
        "denomination": "Société Générale",
        "siret": "73282932000074",
        "voie": "12 rue de la Paix",
        "code_postal": "75002",
        "ville": "PARIS",
        "cert_actions": "true",
        "cert_bilans": "false",
        "cert_vae": "false",
        "cert_apprentissage": "false",
        "date_derniere_declaration": "23/07/2021",
    }
    base.update(values)
    return base


class _QuotingLineBreaks:
    def __init__(self, minimal, quote_all):
        self.minimal, self.quote_all = minimal, quote_all

    def writerow(self, cells):
        broken = any("\r" in c or "\n" in c for c in cells)
        return (self.quote_all if broken else self.minimal).writerow(cells)


def render(
    rows: list[dict[str, str]],
    *,
    header: list[str] | None = None,
    newline: str = "\n",
    extra: dict[str, list[str]] | None = None,
) -> str:
    """The CSV text of `rows` (short names → values) under `header` (official names)."""
    header = list(header or HEADER)
    short_of = {official: short for short, official in COLUMNS}
    out = io.StringIO()
    # A field holding a line break is quoted whatever the line terminator: a bare CR in an unquoted
    # field would be a line end to any reader that accepts old Mac files (and ours does).
    writer = csv.writer(out, delimiter=";", lineterminator=newline)
    writer.writerow(header)
    writer = _QuotingLineBreaks(
        writer, csv.writer(out, delimiter=";", lineterminator=newline, quoting=csv.QUOTE_ALL)
    )
    for i, r in enumerate(rows):
        cells = []
        for name in header:
            if name in short_of:
                cells.append(r.get(short_of[name], ""))
            else:
                cells.append((extra or {}).get(name, [""] * len(rows))[i])
        writer.writerow(cells)
    return out.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def read_all(path: Path) -> tuple[ListePubliqueReader, list[Record]]:
    reader = ListePubliqueReader(path)
    return reader, list(reader)


def value(record: Record, field: str) -> str:
    return record.values[INDEX[field]]


# --- encodings -----------------------------------------------------------------------------------------


def test_utf8_with_bom(tmp_path):
    path = write(tmp_path / "bom.csv", b"\xef\xbb\xbf" + render([row()]).encode("utf-8"))
    reader, records = read_all(path)
    assert reader.encoding == "utf-8-sig"
    assert len(records) == 1
    assert value(records[0], "nda") == "11755555575"  # the first column is recognised despite the BOM
    assert value(records[0], "denomination") == "Société Générale"
    assert reader.missing_optional == []


def test_utf8_with_bom_and_quoted_header(tmp_path):
    text = render([row()])
    header, rest = text.split("\n", 1)
    quoted = ";".join(f'"{cell}"' for cell in header.split(";"))
    path = write(tmp_path / "bom-quoted.csv", b"\xef\xbb\xbf" + (quoted + "\n" + rest).encode("utf-8"))
    _, records = read_all(path)
    assert value(records[0], "nda") == "11755555575"
    assert value(records[0], "denomination") == "Société Générale"


def test_utf8_without_bom(tmp_path):
    path = write(tmp_path / "utf8.csv", render([row(ville="SAINT-ÉTIENNE")]).encode("utf-8"))
    reader, records = read_all(path)
    assert reader.encoding == "utf-8"
    assert value(records[0], "denomination") == "Société Générale"
    assert value(records[0], "ville") == "SAINT-ÉTIENNE"
    assert reader.records_windows_1252 == 0


def test_windows_1252(tmp_path):
    rows = [row(), row(nda="11755555576", denomination="Lycée Œuvre d'Éveil – 2€", ville="SAINT-ÉTIENNE")]
    path = write(tmp_path / "cp1252.csv", render(rows).encode("cp1252"))
    reader, records = read_all(path)
    assert reader.encoding == "cp1252"
    assert value(records[0], "denomination") == "Société Générale"
    assert value(records[1], "denomination") == "Lycée Œuvre d'Éveil – 2€"
    assert value(records[1], "ville") == "SAINT-ÉTIENNE"


def test_windows_1252_after_a_long_ascii_start(tmp_path):
    """The encoding is guessed from the first megabyte: accents further down must still read right."""
    rows = [row(nda=f"{11700000000 + i}", denomination="FORMATION ASCII " + "X" * 200) for i in range(6000)]
    rows.append(row(nda="11799999999", denomination="Société Générale"))
    path = write(tmp_path / "late-cp1252.csv", render(rows).encode("cp1252"))
    assert path.stat().st_size > 1 << 20
    reader, records = read_all(path)
    assert value(records[-1], "denomination") == "Société Générale"
    assert reader.records_windows_1252 >= 1


def test_utf8_with_stray_windows_1252_bytes(tmp_path):
    """Past the first megabyte (where the encoding is told), a stray Windows-1252 byte is read as such."""
    rows = [row(nda=f"{11700000000 + i}", denomination="Société " + "X" * 200) for i in range(6000)]
    rows.append(row(nda="11799999999", denomination="Café"))
    data = render(rows).encode("utf-8").replace("Café".encode(), "Café".encode("cp1252"))
    assert len(data) > 1 << 20
    reader, records = read_all(write(tmp_path / "mixed.csv", data))
    assert reader.encoding == "utf-8"
    assert value(records[0], "denomination").startswith("Société ")
    assert value(records[-1], "denomination") == "Café"
    assert reader.records_windows_1252 == 1


def test_small_mixed_file_still_cleans_right(tmp_path):
    """A short UTF-8 file with one Windows-1252 byte is read as Windows-1252: its UTF-8 accents come out
    as mojibake, which the text cleaner then repairs."""
    from annuaire.clean.text import TextCleaner

    data = render(
        [row(denomination="Société Générale"), row(nda="11755555576", denomination="Café")]
    ).encode()
    data = data.replace("Café".encode(), "Café".encode("cp1252"))
    _, records = read_all(write(tmp_path / "mixed.csv", data))
    clean = TextCleaner()
    assert [clean(value(r, "denomination"))[0] for r in records] == ["Société Générale", "Café"]


def test_detect_encoding():
    assert detect_encoding(b"\xef\xbb\xbfabc") == "utf-8-sig"
    assert detect_encoding("Société".encode()) == "utf-8"
    assert detect_encoding("Société".encode("cp1252")) == "cp1252"
    assert detect_encoding("Société".encode()[:-1]) == "utf-8"  # a character cut by the sample's end


# --- line ends and quoting -----------------------------------------------------------------------------


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_line_ends(tmp_path, newline):
    rows = [row(nda=f"1175555557{i}", voie=f"{i} rue de la Paix") for i in range(3)]
    path = write(tmp_path / "lines.csv", render(rows, newline=newline).encode())
    _, records = read_all(path)
    assert [value(r, "nda") for r in records] == ["11755555570", "11755555571", "11755555572"]
    assert [r.line for r in records] == [2, 3, 4]
    assert [r.number for r in records] == [1, 2, 3]
    for r in records:
        assert all("\r" not in v and "\n" not in v for v in r.values)
        assert r.width_ok and not r.overflow


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_quoted_fields_with_separators_and_line_breaks(tmp_path, newline):
    rows = [
        row(nda="11755555570", denomination="ALPHA; BETA"),
        row(nda="11755555571", voie=f"Bâtiment A{newline}12 rue de la Paix{newline}3e étage"),
        row(nda="11755555572", denomination='Le "Bon" Centre'),
        row(nda="11755555573"),
    ]
    text = render(rows, newline=newline)
    assert text.count(newline) == 7  # header + 4 records + 2 line breaks inside a field
    path = write(tmp_path / "quoted.csv", text.encode())
    _, records = read_all(path)
    assert len(records) == 4
    assert value(records[0], "denomination") == "ALPHA; BETA"
    assert value(records[1], "voie") == f"Bâtiment A{newline}12 rue de la Paix{newline}3e étage"
    assert value(records[2], "denomination") == 'Le "Bon" Centre'
    # Physical start line of each record (the header is line 1).
    assert [r.line for r in records] == [2, 3, 6, 7]
    assert all(r.width_ok for r in records)


def test_unquoted_separator_in_a_field_is_flagged(tmp_path):
    text = render([row()])
    text = text.replace("Société Générale", "ALPHA", 1)
    lines = text.split("\n")
    lines[1] = lines[1] + ";surplus"
    path = write(tmp_path / "overflow.csv", "\n".join(lines).encode())
    _, records = read_all(path)
    assert not records[0].width_ok and records[0].overflow


def test_short_record_is_padded(tmp_path):
    text = render([row()]).rstrip("\n")
    text += "\n11755555579;;ABC\n"
    path = write(tmp_path / "short.csv", text.encode())
    _, records = read_all(path)
    assert len(records) == 2
    assert not records[1].width_ok and not records[1].overflow
    assert value(records[1], "denomination") == "ABC"
    assert value(records[1], "ville") == ""


def test_blank_and_empty_records_are_kept(tmp_path):
    text = render([row(), {name: "" for name in FIELDS}, row(nda="11755555576")])
    path = write(tmp_path / "empty-rows.csv", text.encode())
    _, records = read_all(path)
    assert len(records) == 3
    assert not any(records[1].values)
    assert [r.line for r in records] == [2, 3, 4]


# --- compression ---------------------------------------------------------------------------------------


def test_gzip_detected_by_magic_bytes(tmp_path):
    data = gzip.compress(render([row(), row(nda="11755555576")]).encode("utf-8"))
    for name in ("liste.csv", "liste", "liste.csv.gz"):
        path = write(tmp_path / name, data)
        reader, records = read_all(path)
        assert reader.compressed
        assert [value(r, "denomination") for r in records] == ["Société Générale"] * 2


def test_gzip_with_bom_and_crlf(tmp_path):
    data = gzip.compress(b"\xef\xbb\xbf" + render([row()], newline="\r\n").encode("utf-8"))
    reader, records = read_all(write(tmp_path / "bom.gz", data))
    assert reader.compressed and reader.encoding == "utf-8-sig"
    assert value(records[0], "nda") == "11755555575"
    assert value(records[0], "date_derniere_declaration") == "23/07/2021"


def test_gzip_windows_1252(tmp_path):
    data = gzip.compress(render([row()]).encode("cp1252"))
    reader, records = read_all(write(tmp_path / "cp1252.csv", data))
    assert reader.compressed and reader.encoding == "cp1252"
    assert value(records[0], "denomination") == "Société Générale"


def test_plain_file_named_gz(tmp_path):
    reader, records = read_all(write(tmp_path / "not-really.csv.gz", render([row()]).encode()))
    assert not reader.compressed
    assert value(records[0], "denomination") == "Société Générale"


# --- columns -------------------------------------------------------------------------------------------


def test_columns_in_shuffled_order(tmp_path):
    header = list(HEADER)
    random.Random(7).shuffle(header)
    assert header != HEADER
    rows = [row(), row(nda="11755555576", denomination="AUTRE", code_postal="57500", ville="ST AVOLD")]
    _, records = read_all(write(tmp_path / "shuffled.csv", render(rows, header=header).encode()))
    for record, expected in zip(records, rows, strict=True):
        for field in FIELDS:
            assert value(record, field) == expected.get(field, ""), field
        assert record.raw != record.values or header == HEADER


def test_unknown_extra_column_is_kept_aside(tmp_path):
    header = [*HEADER[:5], "commentaire", *HEADER[5:]]
    rows = [row(), row(nda="11755555576")]
    text = render(rows, header=header, extra={"commentaire": ["à vérifier", ""]})
    reader, records = read_all(write(tmp_path / "extra.csv", text.encode()))
    assert reader.extra_columns == [(5, "commentaire")]
    assert records[0].extras == {"commentaire": "à vérifier"}
    assert records[1].extras is None  # empty values are not kept
    assert value(records[0], "voie") == "12 rue de la Paix"  # the columns after it are still right
    assert all(r.width_ok for r in records)


def test_missing_optional_column_is_tolerated(tmp_path):
    dropped = ["numerosDeclarationActivitePrecedent", "informationsDeclarees.nbStagiaires", "siren"]
    header = [h for h in HEADER if h not in dropped]
    reader, records = read_all(write(tmp_path / "optional.csv", render([row()], header=header).encode()))
    assert sorted(reader.missing_optional) == sorted(dropped)
    assert value(records[0], "ndas_precedents") == ""
    assert value(records[0], "siren") == ""
    assert value(records[0], "denomination") == "Société Générale"
    assert records[0].width_ok


@pytest.mark.parametrize(
    "missing", ["denomination", "siretEtablissementDeclarant", "numeroDeclarationActivite"]
)
def test_missing_required_column_is_refused(tmp_path, missing):
    header = [h for h in HEADER if h != missing]
    path = write(tmp_path / "required.csv", render([row()], header=header).encode())
    with pytest.raises(InputError) as caught:
        read_all(path)
    assert missing in str(caught.value)
    assert str(path) in str(caught.value)


def test_header_names_are_compared_loosely(tmp_path):
    header = [f" {h.upper()} " for h in HEADER]
    _, records = read_all(
        write(
            tmp_path / "loose.csv",
            render([row()], header=HEADER).replace(";".join(HEADER), ";".join(header), 1).encode(),
        )
    )
    assert value(records[0], "denomination") == "Société Générale"


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"\n\n  \n", "empty"),
        (";".join(HEADER).encode() + b"\n", "no records"),
        (b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>\n", "not a Liste publique"),
        (",".join(HEADER).encode() + b"\n1,2,3\n", "separator"),
        (b"\x00\x01\x02binary\x00" * 100, "binary"),
    ],
)
def test_unusable_files_raise_input_error(tmp_path, data, words):
    path = write(tmp_path / "bad.csv", data)
    with pytest.raises(InputError) as caught:
        read_all(path)
    assert words in str(caught.value)
    assert str(path) in str(caught.value)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        ListePubliqueReader(tmp_path / "absent.csv")


def test_nul_bytes_after_the_first_megabyte(tmp_path):
    rows = [row(nda=f"{11700000000 + i}", denomination="X" * 300) for i in range(4000)]
    data = render(rows).encode() + b"11799999999;\x00\x00\x00;junk\n"
    assert len(data) > 1 << 20
    with pytest.raises(InputError, match="NUL|binary") as caught:
        read_all(write(tmp_path / "late-nul.csv", data))
    assert caught.value.line == 4002  # header + 4,000 records: the NUL bytes are on line 4,002


def test_truncated_gzip(tmp_path):
    rows = [row(nda=f"{11700000000 + i}", denomination=f"ORGANISME {i} " + "Y" * 300) for i in range(6000)]
    data = gzip.compress(render(rows).encode())
    with pytest.raises(InputError, match="gzip"):
        read_all(write(tmp_path / "cut.csv.gz", data[: len(data) * 3 // 4]))
    with pytest.raises(InputError, match="gzip"):
        read_all(write(tmp_path / "cut-early.csv.gz", data[:200]))


# --- property: what is written is what is read ---------------------------------------------------------

_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufeff"), max_size=30
)
_multiline = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\ufeff"), max_size=30
).filter(lambda s: sum(c < " " and c not in "\t\r\n" for c in s) < 3)
FRENCH = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 '-,.;\"àâäçéèêëîïôöùûüÿÀÂÄÇÉÈÊËÎÏÔÖÙÛÜ"
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(
        st.fixed_dictionaries({"denomination": _text, "voie": _multiline, "ville": _text}),
        min_size=1,
        max_size=5,
    ),
    newline=st.sampled_from(["\n", "\r\n"]),
    bom=st.booleans(),
    compress=st.booleans(),
)
def test_utf8_round_trip(rows, newline, bom, compress):
    records_in = [row(nda=f"{11755555500 + i}", **r) for i, r in enumerate(rows)]
    data = render(records_in, newline=newline).encode("utf-8")
    data = (b"\xef\xbb\xbf" if bom else b"") + data
    with tempfile.TemporaryDirectory() as folder:
        path = write(Path(folder) / "source.csv", gzip.compress(data) if compress else data)
        _, records = read_all(path)
    assert len(records) == len(records_in)
    for record, expected in zip(records, records_in, strict=True):
        for field in ("nda", "denomination", "voie", "ville"):
            assert value(record, field) == expected[field]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    names=st.lists(st.text(alphabet=FRENCH, max_size=30), min_size=1, max_size=5),
    newline=st.sampled_from(["\n", "\r\n"]),
)
def test_windows_1252_round_trip(names, newline):
    records_in = [row(nda=f"{11755555500 + i}", denomination=n) for i, n in enumerate(names)]
    with tempfile.TemporaryDirectory() as folder:
        path = write(Path(folder) / "source.csv", render(records_in, newline=newline).encode("cp1252"))
        _, records = read_all(path)
    assert [value(r, "denomination") for r in records] == names


# --- property: known records are recognised without changing what is read ---------------------------

_cell = st.text(alphabet="abcAZ09 éàÔ€;\"\n'", max_size=8)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lines=st.lists(
        st.tuples(st.lists(_cell, min_size=1, max_size=len(HEADER) + 1), st.booleans(), st.booleans()),
        min_size=1,
        max_size=8,
    ),
    newline=st.sampled_from(["\n", "\r\n", "\r"]),
    known_share=st.integers(min_value=0, max_value=3),
)
def test_known_records_are_the_records_a_plain_read_gives(lines, newline, known_share):
    """records(known) hands a one-line record without quotes whose fingerprint is known as a
    KnownRecord; everything else, and every count the reader keeps, is as a plain read gives it."""
    from annuaire.sources.reader import KnownRecord, record_fingerprint

    data = (";".join(HEADER) + newline).encode("utf-8")
    for cells, as_csv, cp1252 in lines:  # fields quoted as csv writes them, or written bare
        if as_csv:
            buffer = io.StringIO()
            csv.writer(buffer, delimiter=";", lineterminator=newline).writerow(cells)
            text = buffer.getvalue()
        else:
            text = ";".join(cells) + newline
        data += text.encode("cp1252" if cp1252 else "utf-8")
    with tempfile.TemporaryDirectory() as folder:
        path = write(Path(folder) / "source.csv", data)
        plain_reader, plain = read_all(path)
        known = {record_fingerprint(r.raw): f"v{r.number}" for r in plain if r.number % 4 < known_share}
        reader = ListePubliqueReader(path)
        read = list(reader.records(known))
    assert len(read) == len(plain)
    recognised = 0
    for got, expected in zip(read, plain, strict=True):
        if isinstance(got, KnownRecord):
            recognised += 1
            assert reader.record(got) == expected
            assert got.raw == expected.raw and known[record_fingerprint(expected.raw)] == got.known
        else:
            assert got == expected
    # Recognised: every known record on one line without quotes whose bytes are UTF-8 (a line in
    # Windows-1252 is read in full, its fields decoded).
    physical = io.TextIOWrapper(io.BytesIO(data), encoding="latin-1", newline="").readlines()
    expected = [
        r
        for r in plain
        if record_fingerprint(r.raw) in known
        and r.lines == 1
        and '"' not in ";".join(r.raw)
        and ";".join(r.raw).encode("utf-8") == physical[r.line - 1].rstrip("\r\n").encode("latin-1")
    ]
    assert recognised == len(expected)
    for attribute in ("lines", "records_read", "records_windows_1252", "repairs", "unclosed_quotes", "spans"):
        assert getattr(reader, attribute) == getattr(plain_reader, attribute), attribute
