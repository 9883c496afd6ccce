"""Every physical line of the file is accounted for, whatever its quotes: stray quotes, quotes never
closed, quoted line breaks and separators (issue 19, item 0)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from annuaire.sources.liste_publique import COLUMNS
from annuaire.sources.reader import UNCLOSED_QUOTE, ListePubliqueReader, split_literal

HEADER = [official for _, official in COLUMNS]
WIDTH = len(HEADER)
LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -,.'éèàçÉÔ"


def quoted(value: str) -> str:
    """As csv.writer writes a field (QUOTE_MINIMAL, `;`)."""
    if any(c in value for c in ';"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def line_breaks(value: str) -> int:
    return value.replace("\r\n", "\n").count("\n") + value.replace("\r\n", "").count("\r")


plain = st.text(alphabet=LETTERS, min_size=1, max_size=12)
special = st.one_of(
    st.tuples(plain, plain).map("; ".join),  # a separator inside quotes
    st.tuples(plain, st.sampled_from(["\n", "\r\n"]), plain).map("".join),  # a quoted line break
    st.tuples(plain, plain).map('"'.join),  # an escaped quote
    plain.map(lambda v: f'"{v}"'),  # a value that starts and ends with a quote
)
value = st.one_of(st.just(""), plain, plain, plain, special)


@st.composite
def records(draw, index: int) -> list[str]:
    cells = [draw(value) for _ in range(WIDTH)]
    cells[0] = f"{11700000000 + index}"  # every record has its own NDA
    cells[2] = draw(plain)  # and a name
    return cells


def with_quote(value: str, where: str) -> str:
    """A value with a bare quote: opening it (never closed), inside it, or after it."""
    return {"start": '"' + value, "inside": value[:1] + '"' + value[1:], "end": value + '"'}[where]


@st.composite
def files(draw):
    """(rows, stray): the records, and for some of them the field whose value gets a bare quote
    written into it (field → where: at its start, a quote opened and never closed; inside or at the
    end, a literal quote that csv.reader already reads as such)."""
    count = draw(st.integers(min_value=1, max_value=12))
    rows = [draw(records(i)) for i in range(count)]
    stray: dict[int, tuple[int, str]] = {}
    for i, cells in enumerate(rows):
        candidates = [k for k in range(1, WIDTH) if cells[k] and quoted(cells[k]) == cells[k]]
        if candidates and draw(st.integers(0, 3)) == 0:
            where = draw(st.sampled_from(["start", "start", "inside", "end"]))
            stray[i] = (draw(st.sampled_from(candidates)), where)
    return rows, stray


def render(rows: list[list[str]], stray: dict[int, tuple[int, str]], newline: str) -> str:
    lines = [";".join(HEADER)]
    for i, cells in enumerate(rows):
        written = [quoted(c) for c in cells]
        if i in stray:
            field, where = stray[i]
            written[field] = with_quote(cells[field], where)
        lines.append(";".join(written))
    return newline.join(lines) + newline


def physical_lines(text: str) -> int:
    return len(text.replace("\r\n", "\n").replace("\r", "\n").split("\n")) - 1


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=files(), newline=st.sampled_from(["\n", "\r\n"]))
def test_no_line_is_lost_and_well_formed_records_read_as_written(data, newline):
    rows, stray = data
    text = render(rows, stray, newline)
    note(f"file: {text!r}; stray: {stray}")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "liste.csv"
        path.write_bytes(text.encode("utf-8"))
        reader = ListePubliqueReader(path)
        read = list(reader)
    # Every physical line is the header or part of exactly one record.
    assert reader.lines == physical_lines(text)
    assert reader.header_lines + sum(reader.lines_of(r.number) for r in read) == reader.lines
    assert [r.line for r in read] == sorted({r.line for r in read})
    by_line = {r.line: r for r in read}
    line = 2
    for i, cells in enumerate(rows):
        record = by_line.get(line)
        assert record is not None, f"no record starts at line {line}"
        if i not in stray:
            # A well-formed record reads as written, over the lines its quoted line breaks take.
            assert record.raw == cells and record.defect is None
            assert record.lines == 1 + sum(line_breaks(c) for c in cells)
            line += record.lines
            continue
        # A quote never closed: read as a literal character when that gives the header's width,
        # else the line alone is quarantined; either way reading goes on at the next line.
        if any(line_breaks(c) for c in cells):
            line = _next_clean_line(rows, stray, i, line, by_line)
            continue
        assert record.lines == 1
        field, where = stray[i]
        expected = list(cells)
        expected[field] = with_quote(cells[field], where)
        if where != "start":  # a literal quote, as csv.reader reads it: nothing to repair
            assert record.raw == expected and record.defect is None
            assert line not in reader.unclosed_quotes["repaired"]
        elif record.defect is None:
            assert record.raw == expected
            assert line in reader.unclosed_quotes["repaired"]
        else:
            assert record.defect == UNCLOSED_QUOTE
            assert line in reader.unclosed_quotes["quarantined"]
        line += 1


def _next_clean_line(rows, stray, i, line, by_line) -> int:
    """A damaged record that also spans lines: its lines are read one way or another; the next
    record starts after them."""
    return line + 1 + sum(line_breaks(c) for c in rows[i])


def test_the_real_case_a_name_opening_a_quote(tmp_path):
    """`"UFORCA NANTES`: the quote opens and never closes. The old reader swallowed the next 189 lines
    into that field; the record is read with its quote as a literal character, and the rest follow."""
    rows = [[f"{11700000000 + i}", "", f"ORGANISME {i}", *[""] * (WIDTH - 3)] for i in range(200)]
    rows[10][2] = "UFORCA NANTES"
    path = tmp_path / "liste.csv"
    path.write_text(render(rows, {10: (2, "start")}, "\n"), encoding="utf-8")
    reader = ListePubliqueReader(path)
    read = list(reader)
    assert len(read) == 200 and reader.lines == 201
    assert read[10].raw[2] == '"UFORCA NANTES' and read[10].defect is None
    assert [r.raw[2] for r in read[11:]] == [f"ORGANISME {i}" for i in range(11, 200)]
    assert reader.repairs == {UNCLOSED_QUOTE: 1}
    assert reader.unclosed_quotes == {"repaired": [12], "quarantined": []}


def test_a_line_that_reads_right_neither_way_is_quarantined_alone(tmp_path):
    header = ";".join(HEADER)
    good = ";".join(["11700000001", "", "BON", *[""] * (WIDTH - 3)])
    bad = '11700000002;;"ORGANISME SANS FIN;trop;court'  # an open quote, and too few fields either way
    path = tmp_path / "liste.csv"
    path.write_text("\n".join([header, good, bad, good.replace("01", "03", 1), ""]), encoding="utf-8")
    reader = ListePubliqueReader(path)
    read = list(reader)
    assert [r.line for r in read] == [2, 3, 4]
    assert read[1].defect == UNCLOSED_QUOTE and read[1].raw[:3] == ["11700000002", "", '"ORGANISME SANS FIN']
    assert read[2].raw[0] == "11700000003" and read[2].defect is None
    assert reader.unclosed_quotes == {"repaired": [], "quarantined": [3]}


def test_a_stray_quote_in_a_line_with_quoted_fields(tmp_path):
    """The stray quote would be "closed" by the opening quote of a later field: not a proper close."""
    cells = ["11700000001", "", "UFORCA", "", "", "12 rue; bis", *[""] * (WIDTH - 6)]
    line = ";".join(["11700000001", "", '"UFORCA', "", "", '"12 rue; bis"', *[""] * (WIDTH - 6)])
    path = tmp_path / "liste.csv"
    path.write_text(";".join(HEADER) + "\n" + line + "\n", encoding="utf-8")
    (record,) = list(ListePubliqueReader(path))
    assert record.raw == [*cells[:2], '"UFORCA', *cells[3:]]


def test_a_stray_quote_closed_by_chance_two_records_later(tmp_path):
    """A quote opened and never closed in one record, a bare quote ending a field of the next, which
    also has a quoted line break: read as one quoted field, the three lines make a record of the
    header's width by chance. The first line is a record on its own and the next begins one: two
    records, as written (found by the property test above)."""
    first = ["11700000008", "", "0", *[""] * (WIDTH - 3)]
    second = ["11700000009", "", "0", *[""] * (WIDTH - 4), "un\ndeux"]
    text = "\n".join(
        [
            ";".join(HEADER),
            ";".join([*first[:2], '"0', *first[3:]]),
            ";".join([*second[:2], '0"', *second[3:-1], '"un\ndeux"']),
            "",
        ]
    )
    path = tmp_path / "liste.csv"
    path.write_text(text, encoding="utf-8")
    reader = ListePubliqueReader(path)
    read = list(reader)
    assert [(r.line, r.lines, r.defect) for r in read] == [(2, 1, None), (3, 2, None)]
    assert read[0].raw == [*first[:2], '"0', *first[3:]]
    assert read[1].raw == [*second[:2], '0"', *second[3:]]
    assert reader.lines == 4 and reader.unclosed_quotes == {"repaired": [2], "quarantined": []}


def test_split_literal_reads_well_formed_lines_as_csv_does():
    import csv

    for line in ['a;"b;c";d', '"x""y";;z', "", "a;", '"";b', '"a"\r\n']:
        assert split_literal(line) == next(csv.reader([line], delimiter=";"), [])


def test_mixed_encodings_record_by_record(tmp_path):
    """One record in Windows-1252 in a UTF-8 file (and one UTF-8 record in a Windows-1252 file): each
    record is decoded on its own, and counted."""
    header = ";".join(HEADER)

    def line(nda: str, name: str) -> str:
        return ";".join([nda, "", name, *[""] * (WIDTH - 3)])

    data = (
        (header + "\n" + line("11700000001", "Société Générale") + "\n").encode()
        + (line("11700000002", "Café Crème Ãtudes") + "\n").encode("cp1252")
        + (line("11700000003", "Lycée d'Été") + "\n").encode()
    )
    path = tmp_path / "mixed.csv"
    path.write_bytes(data)
    reader = ListePubliqueReader(path)
    names = [r.raw[2] for r in reader]
    assert names == ["Société Générale", "Café Crème Ãtudes", "Lycée d'Été"]
    assert reader.encoding == "utf-8" and reader.records_windows_1252 == 1
    # The other way round: the file is mostly Windows-1252, one record is UTF-8.
    data = (
        (header + "\n" + line("11700000001", "Société Générale") + "\n").encode("cp1252")
        + (line("11700000002", "Lycée d'Été") + "\n").encode()
        + (line("11700000003", "Crèche à Noël") + "\n").encode("cp1252")
    )
    path.write_bytes(data)
    reader = ListePubliqueReader(path)
    assert [r.raw[2] for r in reader] == ["Société Générale", "Lycée d'Été", "Crèche à Noël"]
    assert reader.encoding == "cp1252" and reader.records_windows_1252 == 2
