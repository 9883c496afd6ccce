"""Editorial guides: Markdown files with front matter, rendered safely, with their mentions of
départements and organisations linked to the directory's pages.

`library` reads a folder of guides (front matter checked), `links` finds mentions in text (pure),
`render` turns Markdown into HTML (raw HTML never passes: it is shown as text).
"""

from .library import Guide, GuideLibrary, default_folder

__all__ = ["Guide", "GuideLibrary", "default_folder"]
