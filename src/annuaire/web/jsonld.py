"""Structured data (schema.org JSON-LD) for organisation pages."""

from __future__ import annotations

import json
from typing import Any

from .text import SCOPE_LABELS, nice_name, scopes_of


def organisation_jsonld(org: dict[str, Any], url: str, description: str) -> dict[str, Any]:
    """An EducationalOrganization with its postal address and, when located, its coordinates."""
    address: dict[str, Any] = {"@type": "PostalAddress", "addressCountry": "FR"}
    # The address shown: the Liste publique's, or SIRENE's when its own gives no commune.
    shown = org.get("lieu") or {}
    street = shown.get("adresse") if shown.get("origine") == "sirene" else org.get("adresse")
    postcode = shown.get("code_postal") if shown.get("origine") == "sirene" else org.get("code_postal")
    if street:
        address["streetAddress"] = street
    if postcode:
        address["postalCode"] = postcode
    if org.get("commune"):
        address["addressLocality"] = nice_name(org["commune"])
    if org.get("region"):
        address["addressRegion"] = org["region"]
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "EducationalOrganization",
        "@id": url,
        "url": url,
        "name": org["denomination"],
        "description": description,
        "address": address,
        "identifier": [
            {"@type": "PropertyValue", "propertyID": "NDA", "value": nda}
            for nda in org.get("numeros_declaration_activite") or [org["numero_declaration_activite"]]
        ],
    }
    if org.get("siret"):
        data["identifier"].insert(0, {"@type": "PropertyValue", "propertyID": "SIRET", "value": org["siret"]})
    if org.get("latitude") is not None and org.get("longitude") is not None:
        data["geo"] = {"@type": "GeoCoordinates", "latitude": org["latitude"], "longitude": org["longitude"]}
    scopes = scopes_of(org)
    if scopes:
        data["hasCredential"] = [
            {
                "@type": "EducationalOccupationalCredential",
                "credentialCategory": "Certification Qualiopi",
                "name": f"Qualiopi : {SCOPE_LABELS[s]}",
            }
            for s in scopes
        ]
    return data


def script_json(data: dict[str, Any]) -> str:
    """JSON safe inside a <script> element ("</" and "<!--" cannot close or comment it)."""
    return json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")
