"""Licence names as data.gouv.fr and producers write them, normalised to one identifier.

`normalise("Licence Ouverte / Open Licence version 2.0")` → `Licence("lo-2.0", …)`. The identifiers are
SPDX's where SPDX has one (`etalab-2.0` is SPDX's name for the Licence Ouverte 2.0; we keep `lo-2.0`,
the French usage, and give SPDX's beside it)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class Licence:
    id: str  # lo-2.0, lo-1.0, odbl-1.0, cc-by-4.0, cc-by-sa-4.0, cc0-1.0, autre, inconnue…
    label: str  # French name
    spdx: str | None
    open: bool  # an open licence (reuse allowed, commercial included)
    versioned: bool  # the exact version is known
    url: str | None = None


LO2 = Licence(
    "lo-2.0",
    "Licence Ouverte / Open Licence version 2.0",
    "etalab-2.0",
    True,
    True,
    "https://www.etalab.gouv.fr/licence-ouverte-open-licence/",
)
LO1 = Licence("lo-1.0", "Licence Ouverte / Open Licence version 1.0", None, True, True)
# Without a version, the Licence Ouverte is read as the version in force (2.0, since 2017): same id,
# but `versioned` is false, which the licence-clarity axis of the trust score notes.
LO = Licence(
    "lo-2.0",
    "Licence Ouverte / Open Licence (version non précisée : la 2.0, en vigueur)",
    "etalab-2.0",
    True,
    False,
    LO2.url,
)
ODBL = Licence("odbl-1.0", "Open Database License (ODbL) 1.0", "ODbL-1.0", True, True)
CC_BY4 = Licence("cc-by-4.0", "Creative Commons Attribution 4.0", "CC-BY-4.0", True, True)
CC_BY = Licence("cc-by", "Creative Commons Attribution (version non précisée)", None, True, False)
CC_BY_SA4 = Licence(
    "cc-by-sa-4.0",
    "Creative Commons Attribution – Partage dans les mêmes conditions 4.0",
    "CC-BY-SA-4.0",
    True,
    True,
)
CC_BY_SA = Licence(
    "cc-by-sa", "Creative Commons Attribution – Partage dans les mêmes conditions", None, True, False
)
CC0 = Licence("cc0-1.0", "Creative Commons Zero (domaine public)", "CC0-1.0", True, True)
OTHER_OPEN = Licence("autre-ouverte", "Autre licence ouverte (non précisée)", None, True, False)
OTHER = Licence("autre", "Autre licence (non précisée)", None, False, False)
NONE = Licence("inconnue", "Licence non indiquée", None, False, False)

# Keys: the name folded (lower case, no accents, only letters and digits).
_EXACT = {
    "lov2": LO2,
    "etalab20": LO2,
    "licenceouverte20": LO2,
    "licenceouvertev20": LO2,
    "licenceouverteversion20": LO2,
    "licenceouverteopenlicence20": LO2,
    "licenceouverteopenlicenceversion20": LO2,
    "openlicence20": LO2,
    "lov1": LO1,
    "frlo": LO1,
    "etalab10": LO1,
    "licenceouverte10": LO1,
    "licenceouvertev10": LO1,
    "licenceouverteversion10": LO1,
    "licenceouverteopenlicence10": LO1,
    "licenceouverteopenlicenceversion10": LO1,
    "licenceouverte": LO,
    "lo": LO,
    "lo20": LO2,
    "lo10": LO1,
    "licenceouverteopenlicence": LO,
    "openlicence": LO,
    "odcodbl": ODBL,
    "odbl": ODBL,
    "odbl10": ODBL,
    "opendatabaselicense": ODBL,
    "opendatabaselicenseodbl": ODBL,
    "ccby": CC_BY,
    "ccby40": CC_BY4,
    "creativecommonsattribution": CC_BY,
    "creativecommonsattribution40": CC_BY4,
    "ccbysa": CC_BY_SA,
    "ccbysa40": CC_BY_SA4,
    "cczero": CC0,
    "cc0": CC0,
    "cc010": CC0,
    "otherpd": OTHER_OPEN,
    "otheropen": OTHER_OPEN,
    "otherat": OTHER_OPEN,
    "otherpublicdomain": OTHER_OPEN,
    "otherattribution": OTHER_OPEN,
    "other": OTHER,
    "autre": OTHER,
    "notspecified": NONE,
    "": NONE,
}


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode().lower()
    text = re.sub(r"\b(version|v)\s*(\d)", r"\2", text)  # "version 2.0", "v2" → "2.0", "2"
    text = re.sub(r"(\d)\.0\b", r"\g<1>0", text)  # 2.0 → 20 (then the key reads "20")
    folded = re.sub(r"[^a-z0-9]", "", text)
    return re.sub(r"(\D)(\d)$", r"\g<1>\g<2>0", folded) if re.search(r"\D\d$", folded) else folded


def normalise(name: str | None) -> Licence:
    """The licence a name designates; `NONE` for an empty one, `OTHER` for one not recognised."""
    key = _fold(name or "")
    if key in _EXACT:
        return _EXACT[key]
    if key.startswith(("licenceouverte", "openlicence", "lov", "etalab")):
        version = re.search(r"([12])0?$", key)
        return {"2": LO2, "1": LO1}.get(version.group(1), LO) if version else LO
    if key.startswith("http") and "licence-ouverte" in (name or "").lower():
        return LO2 if "2.0" in (name or "") or "v2" in (name or "") else LO
    return OTHER
