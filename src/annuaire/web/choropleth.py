"""The statistics page's map of France, drawn on the server as inline SVG: each département a path
from the reference outlines (contours.py's file), filled with its class's tint; the overseas
départements (codes 97…) in insets beside metropolitan France, each at its own scale. No script, no
tiles: the page shows it as it is, without JavaScript and without internet.

The outlines are projected once per file (a plate carrée stretched by the cosine of each frame's
middle latitude, which keeps France's shape at this scale), simplified to about a pixel
(Ramer–Douglas–Peucker) and written with whole numbers in relative steps: about 60 kB for the 101
départements. The tints are the site's stylesheet's (`.teinte-1` … `.teinte-5`, a colour-blind safe
sequential palette, ColorBrewer's YlGnBu; `.teinte-nd` hatched for an unknown value): the map never
carries a figure alone, the legend gives each class's range and the table every value."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from markupsafe import Markup, escape

from .contours import from_outlines, simplify_line

log = logging.getLogger(__name__)
WIDTH, HEIGHT = 1000, 800  # the drawing's units (viewBox)
INSETS_WIDTH = 170  # the column of overseas insets, on the left
GAP = 12
MARGIN = 4  # room for the outer strokes
LABEL = 30  # an inset's name above its shape
TOLERANCE = 0.8  # units: under a pixel on a map shown 800 px wide
OVERSEAS = "97"  # codes of the départements drawn in insets
TINTS = 5  # .teinte-1 … .teinte-5 in site.css


@dataclass(frozen=True)
class Shape:
    code: str
    nom: str
    path: str  # SVG path data


@dataclass(frozen=True)
class Inset:
    nom: str
    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True)
class Drawing:
    shapes: tuple[Shape, ...]
    insets: tuple[Inset, ...]


def _polygons(geometry: Mapping[str, Any]) -> list:
    kind = geometry.get("type")
    if kind == "Polygon":
        return [geometry.get("coordinates") or []]
    if kind == "MultiPolygon":
        return geometry.get("coordinates") or []
    return []


def _fit(
    features: list[tuple[str, str, list]], x: float, y: float, width: float, height: float
) -> list[tuple[str, str, list[list[np.ndarray]]]]:
    """The features' rings projected into the box (x, y, width, height), centred, shape kept."""
    points = np.concatenate(
        [np.asarray(ring, dtype=float)[:, :2] for _, _, polys in features for poly in polys for ring in poly]
    )
    stretch = math.cos(math.radians((points[:, 1].min() + points[:, 1].max()) / 2))
    west, east = points[:, 0].min() * stretch, points[:, 0].max() * stretch
    south, north = points[:, 1].min(), points[:, 1].max()
    scale = min(width / max(east - west, 1e-9), height / max(north - south, 1e-9))
    left = x + (width - (east - west) * scale) / 2
    top = y + (height - (north - south) * scale) / 2
    projected = []
    for code, nom, polys in features:
        rings = []
        for poly in polys:
            rings.append(
                [
                    np.column_stack(
                        (
                            left + (np.asarray(r, dtype=float)[:, 0] * stretch - west) * scale,
                            top + (north - np.asarray(r, dtype=float)[:, 1]) * scale,
                        )
                    )
                    for r in poly
                    if len(r) >= 4
                ]
            )
        projected.append((code, nom, rings))
    return projected


def _ring_path(points: np.ndarray) -> str | None:
    """One ring as path data in whole units, relative steps; None when it shrinks under a unit."""
    kept = np.rint(simplify_line(points, TOLERANCE)).astype(int)
    steps = np.diff(kept, axis=0)
    steps = steps[(steps != 0).any(axis=1)]
    if len(steps) < 3:
        return None
    x, y = kept[0]
    return f"M{x} {y}l" + " ".join(f"{dx} {dy}" for dx, dy in steps[:-1].tolist()) + "z"


def _shape(code: str, nom: str, rings: list[list[np.ndarray]]) -> Shape | None:
    parts = [p for poly in rings for p in map(_ring_path, poly) if p]
    if not parts:  # smaller than the tolerance everywhere: its largest ring, as a speck
        biggest = max((r for poly in rings for r in poly), key=len, default=None)
        if biggest is None:
            return None
        x, y = np.rint(biggest.mean(axis=0)).astype(int).tolist()
        parts = [f"M{x - 1} {y - 1}h2v2h-2z"]
    return Shape(code, nom, "".join(parts))


def layout(data: Mapping[str, Any]) -> Drawing:
    """The drawing of a FeatureCollection of départements (properties `code` and `nom`; the other
    spellings contours.py reads too): metropolitan France on the right, the overseas ones in a
    column of insets on the left, in code order."""
    features = []
    for feature in data.get("features") or []:
        props = feature.get("properties") or {}
        code = str(props.get("code") or props.get("code_insee") or props.get("CODE_DEPT") or "")
        nom = str(props.get("nom") or props.get("NOM") or props.get("NOM_DEPT") or code)
        polys = [p for p in _polygons(feature.get("geometry") or {}) if p and len(p[0]) >= 4]
        if code and polys:
            features.append((code, nom, polys))
    overseas = sorted((f for f in features if f[0].startswith(OVERSEAS)), key=lambda f: f[0])
    mainland = [f for f in features if not f[0].startswith(OVERSEAS)]
    shapes: list[Shape] = []
    insets: list[Inset] = []
    if mainland:
        left = INSETS_WIDTH + GAP if overseas else 0
        for code, nom, rings in _fit(
            mainland, left + MARGIN, MARGIN, WIDTH - left - 2 * MARGIN, HEIGHT - 2 * MARGIN
        ):
            if shape := _shape(code, nom, rings):
                shapes.append(shape)
    if overseas:
        cell = HEIGHT / len(overseas)
        width = INSETS_WIDTH if mainland else WIDTH
        for i, feature in enumerate(overseas):
            top = round(i * cell)
            box = Inset(feature[1], 0, top, width, round(cell - GAP))
            insets.append(box)
            inner = (box.x + GAP, box.y + LABEL, box.width - 2 * GAP, box.height - LABEL - GAP)
            for code, nom, rings in _fit([feature], *inner):
                if shape := _shape(code, nom, rings):
                    shapes.append(shape)
    return Drawing(tuple(shapes), tuple(insets))


def drawing(path: Path) -> Drawing | None:
    """The drawing of an outlines file, made once per version of the file; None when unreadable."""
    return from_outlines(path, layout)


def tint(classe: int | None, classes: int) -> str:
    """The stylesheet's class for a value's class among `classes`: spread over the five tints (two
    classes: the lightest and the darkest), `teinte-nd` for an unknown value."""
    if classe is None:
        return "teinte-nd"
    if classes <= 1:
        return f"teinte-{TINTS // 2 + 1}"
    return f"teinte-{1 + round((classe - 1) * (TINTS - 1) / (classes - 1))}"


def hatching() -> Markup:
    """The pattern that fills an unknown value (`.teinte-nd`), defined once on the page."""
    return Markup(
        '<svg class="defs" width="0" height="0" aria-hidden="true" focusable="false">'
        '<defs><pattern id="hachures" width="8" height="8" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="8" height="8" fill="#ffffff"/>'
        '<line x1="0" y1="0" x2="0" y2="8" stroke="#767676" stroke-width="3"/></pattern></defs></svg>'
    )


def swatch(css_class: str) -> Markup:
    """A legend's sample of a tint."""
    return Markup(
        '<svg class="swatch" viewBox="0 0 24 16" width="24" height="16" aria-hidden="true" '
        f'focusable="false"><rect class="{escape(css_class)}" x="0.5" y="0.5" width="23" height="15"/></svg>'
    )


def choropleth(
    drawn: Drawing,
    classes: Mapping[str, int | None],
    class_count: int,
    title: str,
    description: str,
    label: Callable[[str, str], str],
) -> Markup:
    """The map: each département filled by its class (`classes`: code → class, None unknown), with a
    tooltip (`label(code, name)`); an image to assistive technologies, named by `title` and
    `description`, whose figures the page's table gives."""
    parts = [
        f'<svg class="choroplethe" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        'aria-labelledby="choroplethe-titre choroplethe-description" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="choroplethe-titre">{escape(title)}</title>',
        f'<desc id="choroplethe-description">{escape(description)}</desc>',
    ]
    for inset in drawn.insets:
        parts.append(
            f'<rect class="encart" x="{inset.x + 0.5}" y="{inset.y + 0.5}" width="{inset.width - 1}" '
            f'height="{inset.height - 1}" rx="4"/>'
            f'<text class="encart-nom" x="{inset.x + GAP}" y="{inset.y + LABEL - 8}">'
            f"{escape(inset.nom)}</text>"
        )
    for shape in drawn.shapes:
        css = tint(classes.get(shape.code), class_count)
        parts.append(
            f'<path class="{css}" data-departement="{escape(shape.code)}" d="{shape.path}">'
            f"<title>{escape(label(shape.code, shape.nom))}</title></path>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
