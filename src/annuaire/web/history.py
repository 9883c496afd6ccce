"""The change log of an organisation (`historique`) in French sentences: what was added, removed or
modified, naming the Qualiopi scopes gained or lost ("VAE retirée")."""

from __future__ import annotations

from typing import Any

from ..fields import SCOPES
from .text import SCOPE_SHORT, join_words

GROUP_WORDS = {
    "denomination": "dénomination",
    "adresse": "adresse",
    "certifications": "certifications Qualiopi",
    "declaration": "bilan déclaré (exercice, stagiaires, formateurs, spécialités)",
}
CORRECTED_WORDS = {"denomination": "dénomination", "code_postal": "code postal", "adresse": "adresse"}
# Agreement of "ajouté"/"retiré" with each scope's short name (fields.py): Actions de formation
# (f. pl.), Bilans de compétences (m. pl.), VAE (f.), Apprentissage (m.).
_ENDINGS = {s.code: s.ending for s in SCOPES}


def scope_change(token: str) -> str | None:
    """ "+vae" → "VAE ajoutée", "-apprentissage" → "Apprentissage retiré"; None for a group name."""
    if token[:1] not in "+-" or token[1:] not in SCOPE_SHORT:
        return None
    code = token[1:]
    verb = "ajouté" if token[0] == "+" else "retiré"
    return f"{SCOPE_SHORT[code]} {verb}{_ENDINGS[code]}"


def modification_words(champs: list[str] | None) -> str:
    """The groups a modification changed, the scopes gained and lost named: "certifications Qualiopi
    (VAE retirée, Apprentissage ajouté), adresse"."""
    tokens = champs or []
    scopes = [w for w in map(scope_change, tokens) if w]
    parts = []
    for group in tokens:
        if scope_change(group) is not None:
            continue
        words = GROUP_WORDS.get(group, group)
        if group == "certifications" and scopes:
            words += f" ({join_words(scopes)})"
        parts.append(words)
    if scopes and "certifications" not in tokens:
        parts.insert(0, join_words(scopes))
    return ", ".join(parts)


def event_sentence(event: dict[str, Any]) -> str:
    """One change log entry, after its date."""
    kind = event["evenement"]
    nda = event.get("numero_declaration_activite")
    champs = event.get("champs")
    if kind == "ajout":
        return f"déclaration {nda} ajoutée à la Liste publique"
    if kind == "modification":
        return f"déclaration {nda} modifiée : {modification_words(champs)}"
    if kind == "suppression":
        return f"déclaration {nda} retirée de la Liste publique"
    if kind == "organisme_regroupe":
        target = champs.get("avec") if isinstance(champs, dict) else None
        return (
            f"déclarations regroupées sous l'établissement {target}" if target else "déclarations regroupées"
        )
    if kind == "correction_verifiee":
        fields = (
            [CORRECTED_WORDS.get(str(c), str(c)) for c in champs if c] if isinstance(champs, list) else []
        )
        return f"correction vérifiée ({', '.join(fields)})" if fields else "correction vérifiée"
    return "organisme retiré de la Liste publique"
