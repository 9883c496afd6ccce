"""NAF labels: the activity a SIRENE code (`activitePrincipaleEtablissement`, "85.59A") names.

`data/naf-rev2.csv` holds the 732 sub-classes of INSEE's *Nomenclature d'activités française*, NAF
rév. 2 (2008), code and label as INSEE publishes them (https://www.insee.fr/fr/information/2120875),
under the Licence Ouverte / Etalab 2.0, which allows shipping them with attribution (source: INSEE).
`scripts/naf_labels.py` regenerates the file. A code of another nomenclature (NAF rév. 1 on old
establishments) has no label here and is shown as a code alone."""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

NAF_FILE = Path(__file__).with_name("data") / "naf-rev2.csv"
NAF_SOURCE = "INSEE, nomenclature d'activités française (NAF rév. 2)"


@cache
def naf_labels() -> dict[str, str]:
    with NAF_FILE.open(encoding="utf-8", newline="") as fh:
        return {row["code"]: row["libelle"] for row in csv.DictReader(fh)}


def naf_label(code: str | None) -> str | None:
    """The label of a NAF rév. 2 sub-class ("85.59A" or "8559A"), None when unknown."""
    if not code:
        return None
    compact = code.strip().upper().replace(".", "")
    if len(compact) == 5:
        return naf_labels().get(f"{compact[:2]}.{compact[2:]}")
    return None
