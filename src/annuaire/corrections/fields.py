"""What a visitor may correct, and the checks of a submission (pure functions, French messages)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..clean.identifiers import compact, siret_is_valid

# field → its label on the site; each is a field of the organisation as the API shows it
FIELDS: dict[str, str] = {
    "denomination": "Dénomination",
    "adresse": "Adresse (rue)",
    "code_postal": "Code postal",
    "commune": "Commune",
    "siret": "SIRET",
}
MAX_VALUE = 200
MAX_MESSAGE = 2000
MAX_EMAIL = 254
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL = re.compile(rf"^[^@\s<>\"'(),;:\\\[\]]{{1,64}}@{_LABEL}(?:\.{_LABEL})+$")
_POSTAL = re.compile(r"^[0-9]{5}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class Submission:
    champ: str
    valeur: str
    message: str
    email: str


def tidy(value: str | None, *, keep_lines: bool = False) -> str:
    """Control characters removed, white space collapsed (line breaks kept in a message)."""
    value = _CONTROL.sub("", value or "")
    if keep_lines:
        lines = [" ".join(line.split()) for line in value.replace("\r\n", "\n").split("\n")]
        return "\n".join(lines).strip()
    return " ".join(value.split())


def email_is_valid(value: str) -> bool:
    return len(value) <= MAX_EMAIL and bool(_EMAIL.fullmatch(value))


def check_value(champ: str, valeur: str) -> tuple[str, str | None]:
    """The proposed value normalised, and an error message or None."""
    if not valeur:
        return valeur, "Indiquez la valeur correcte."
    if len(valeur) > MAX_VALUE:
        return valeur, f"La valeur proposée dépasse {MAX_VALUE} caractères."
    if champ == "code_postal":
        if not _POSTAL.fullmatch(valeur):
            return valeur, "Un code postal s'écrit avec cinq chiffres, par exemple 33000."
    elif champ == "siret":
        digits = compact(valeur)
        if not siret_is_valid(digits):
            return valeur, "Ce SIRET n'est pas valide : 14 chiffres dont le dernier est une clé de contrôle."
        return digits, None
    elif len(valeur) < 2:
        return valeur, "La valeur proposée est trop courte."
    return valeur, None


def check_submission(form: dict[str, str]) -> tuple[Submission, dict[str, str]]:
    """The submission as it will be stored, and the errors by field name (empty when valid)."""
    champ = tidy(form.get("champ"))
    valeur = tidy(form.get("valeur"))
    message = tidy(form.get("message"), keep_lines=True)
    email = tidy(form.get("email")).lower()
    errors: dict[str, str] = {}
    if champ not in FIELDS:
        errors["champ"] = "Choisissez l'information à corriger dans la liste."
    else:
        valeur, error = check_value(champ, valeur)
        if error:
            errors["valeur"] = error
    if len(message) > MAX_MESSAGE:
        errors["message"] = f"Le message dépasse {MAX_MESSAGE} caractères."
    if not email:
        errors["email"] = "Indiquez une adresse électronique pour que nous puissions vous répondre."
    elif not email_is_valid(email):
        errors["email"] = "Cette adresse électronique n'est pas valide (exemple : nom@exemple.fr)."
    return Submission(champ, valeur, message, email), errors
