#!/usr/bin/env python3
"""Regenerate `src/annuaire/sources/data/naf-rev2.csv`: the 732 sub-classes of INSEE's *Nomenclature
d'activités française* (NAF rév. 2, 2008), code and label, as INSEE publishes them
(https://www.insee.fr/fr/information/2120875, Licence Ouverte / Etalab 2.0).

Reads either INSEE's own list (`naf2008_liste_n5` saved as CSV, `;`-separated, columns `Code;Libellé`)
or the JSON of the npm package `@socialgouv/codes-naf` (a copy of the same INSEE list:
`npm pack @socialgouv/codes-naf`, then `package/index.json`):

    python scripts/naf_labels.py naf2008_liste_n5.csv
    python scripts/naf_labels.py package/index.json
"""

from __future__ import annotations

import csv
import json
import re
import sys
from pathlib import Path

TARGET = Path(__file__).resolve().parent.parent / "src" / "annuaire" / "sources" / "data" / "naf-rev2.csv"
SUB_CLASS = re.compile(r"^[0-9]{2}\.[0-9]{2}[A-Z]$")


def read(path: Path) -> dict[str, str]:
    if path.suffix == ".json":
        items = [(i["id"], i["label"]) for i in json.loads(path.read_text(encoding="utf-8"))]
    else:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            items = [
                (row[0].strip(), row[1].strip()) for row in csv.reader(fh, delimiter=";") if len(row) >= 2
            ]
    return {code: " ".join(label.split()) for code, label in items if SUB_CLASS.match(code)}


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    labels = read(Path(sys.argv[1]))
    if len(labels) != 732:
        sys.exit(f"{sys.argv[1]}: {len(labels)} sub-classes, NAF rév. 2 has 732")
    with TARGET.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["code", "libelle"])
        writer.writerows(sorted(labels.items()))
    print(f"{TARGET}: {len(labels)} sub-classes")


if __name__ == "__main__":
    main()
