"""Whatever the bytes, a build either succeeds with every record accounted for, or refuses the file
with an InputError (exit code 2): never another exception, never a partial database."""

from __future__ import annotations

import gzip

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annuaire.errors import InputError
from annuaire.pipeline.build import build
from annuaire.sources.liste_publique import COLUMNS
from annuaire.store import open_store

HEADER = ";".join(official for _, official in COLUMNS)
FIELD = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=30),
    st.sampled_from(["", "true", "false", "31/02/2020", "01/01/2021", "1e400", "nan", "-1", "٣٣", '"', ";"]),
    st.from_regex(r"[0-9]{9,14}", fullmatch=True),
)
ROW = st.lists(FIELD, min_size=0, max_size=34).map(lambda cells: ";".join(cells))


def _check(tmp_path, reference, data: bytes, name: str = "fuzz.csv") -> None:
    source = tmp_path / name
    source.write_bytes(data)
    db = tmp_path / "fuzz.db"
    db.unlink(missing_ok=True)
    try:
        report = build(str(source), open_store(str(db)), reference)
    except InputError:
        assert not db.exists()
        return
    rows = report["rows"]
    assert rows["records"] == rows["declarations"] + rows["quarantined"]
    assert db.exists()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(ROW, max_size=8), crlf=st.booleans(), encoding=st.sampled_from(["utf-8", "cp1252", "sig"])
)
@pytest.mark.integration
def test_csv_like_inputs_build_or_are_refused(tmp_path, reference, rows, crlf, encoding):
    text = (("\r\n" if crlf else "\n").join([HEADER, *rows])) + "\n"
    if encoding == "sig":
        data = b"\xef\xbb\xbf" + text.encode("utf-8")
    else:
        data = text.encode(encoding, errors="replace")
    _check(tmp_path, reference, data)


@pytest.mark.integration
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=400), compress=st.booleans(), cut=st.integers(min_value=0, max_value=60))
def test_arbitrary_bytes_build_or_are_refused(tmp_path, reference, data, compress, cut):
    payload = HEADER.encode() + b"\n" + data
    if compress:  # and maybe truncated
        payload = gzip.compress(payload)
        payload = payload[: len(payload) - cut] if cut else payload
    _check(tmp_path, reference, payload)
