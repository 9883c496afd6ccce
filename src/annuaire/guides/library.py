"""A folder of guides: `*.md` files, each with YAML front matter.

    ---
    titre: Comment fonctionne Qualiopi          (required)
    description: Une phrase pour les résultats de recherche et la liste des guides.
    date: 2026-11-20                             (publication or last review)
    departements: ["33", "69"]                   (optional: listed on these départements' pages)
    slug: qualiopi                               (optional: the file's name otherwise)
    ---
    Markdown…

A file that cannot be read, or whose front matter is wrong, is left out and logged with its name and
the reason; the others are served. The folder is read again when a file in it changes.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import frontmatter
import yaml

log = logging.getLogger(__name__)
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
DEPARTEMENT = re.compile(r"^(0[1-9]|[1-8][0-9]|9[0-5]|2[AB]|97[1-8]|98[4-9])$")


def default_folder() -> Path:
    """The guides shipped with the package."""
    return Path(__file__).with_name("contenu")


class GuideError(ValueError):
    pass


@dataclass(frozen=True)
class Guide:
    slug: str
    titre: str
    description: str
    date: str | None
    departements: tuple[str, ...]
    body: str  # Markdown
    path: Path = field(compare=False)


def read_guide(path: Path) -> Guide:
    """One guide from its file; GuideError says what is wrong."""
    try:
        post = frontmatter.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise GuideError(f"unreadable ({exc.__class__.__name__}: {exc})") from None
    meta = post.metadata
    titre = meta.get("titre")
    if not isinstance(titre, str) or not titre.strip():
        raise GuideError("front matter: `titre` (a text) is required")
    slug = str(meta.get("slug") or path.stem)
    if not SLUG.match(slug):
        raise GuideError(f"slug {slug!r}: lower case letters, digits and hyphens expected")
    departements = meta.get("departements") or []
    if not isinstance(departements, list):
        raise GuideError('front matter: `departements` must be a list of codes, e.g. ["33", "2A"]')
    codes = tuple(str(c).strip().upper().zfill(2) for c in departements)
    wrong = [c for c in codes if not DEPARTEMENT.match(c)]
    if wrong:
        raise GuideError(f"front matter: unknown département code(s) {', '.join(wrong)}")
    when = meta.get("date")
    if isinstance(when, date):
        when = when.isoformat()
    elif when is not None:
        when = str(when)
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", when):
            raise GuideError(f"front matter: date {when!r} is not YYYY-MM-DD")
    description = meta.get("description") or ""
    return Guide(slug, titre.strip(), str(description).strip(), when, codes, post.content, path)


class GuideLibrary:
    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self._signature: tuple | None = None
        self._guides: dict[str, Guide] = {}

    def _current_signature(self) -> tuple:
        try:
            files = sorted(self.folder.glob("*.md"))
            return tuple((f.name, f.stat().st_mtime_ns, f.stat().st_size) for f in files)
        except OSError:
            return ()

    def guides(self) -> dict[str, Guide]:
        """Every readable guide by slug, newest first."""
        signature = self._current_signature()
        if signature != self._signature:
            found: dict[str, Guide] = {}
            if not self.folder.is_dir():
                log.warning("guides folder %s not found: no guides are served", self.folder)
            for path in sorted(self.folder.glob("*.md")):
                try:
                    guide = read_guide(path)
                except GuideError as exc:
                    log.warning("guide %s left out: %s", path, exc)
                    continue
                if guide.slug in found:
                    log.warning(
                        "guide %s left out: slug %r already used by %s",
                        path,
                        guide.slug,
                        found[guide.slug].path.name,
                    )
                    continue
                found[guide.slug] = guide
            self._guides = dict(sorted(found.items(), key=lambda kv: (kv[1].date or "", kv[0]), reverse=True))
            self._signature = signature
        return self._guides

    def get(self, slug: str) -> Guide | None:
        return self.guides().get(slug)

    def for_departement(self, code: str) -> list[Guide]:
        return [g for g in self.guides().values() if code.upper() in g.departements]

    def site_paths(self) -> list[tuple[str, str | None]]:
        """The guides' pages for the sitemap: the list, then each guide with its date."""
        guides = self.guides()
        if not guides:
            return []
        return [("/guides/", None), *((f"/guides/{g.slug}", g.date) for g in guides.values())]
