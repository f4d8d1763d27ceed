"""The sky view of a results page: each row's footprint (ObsCore's s_region) drawn as SVG in
a tangent-plane (gnomonic) projection about the page's centre, north up and east left as on
the sky, with the search's cone. Nothing is fetched from elsewhere: no survey tiles.
"""

from __future__ import annotations

import math
from html import escape

SIZE = 360  # pixels, square
MARGIN = 16
MIN_FIELD = 1 / 60  # degrees: a field never shown narrower than an arcminute
MAX_FIELD = 6.0  # degrees: results spread wider are not drawn (a tangent plane, and specks)


def _unit_vector(ra: float, dec: float) -> tuple[float, float, float]:
    r, d = math.radians(ra), math.radians(dec)
    return math.cos(d) * math.cos(r), math.cos(d) * math.sin(r), math.sin(d)


def _centre(points: list[tuple[float, float]]) -> tuple[float, float]:
    x, y, z = (sum(v) for v in zip(*(_unit_vector(ra, dec) for ra, dec in points)))
    return math.degrees(math.atan2(y, x)) % 360, math.degrees(math.atan2(z, math.hypot(x, y)))


def _project(ra: float, dec: float, ra0: float, dec0: float) -> tuple[float, float] | None:
    """Gnomonic (TAN) standard coordinates in degrees; None behind the tangent point."""
    r, d, r0, d0 = map(math.radians, (ra, dec, ra0, dec0))
    cos_c = math.sin(d0) * math.sin(d) + math.cos(d0) * math.cos(d) * math.cos(r - r0)
    if cos_c <= 0.01:
        return None
    xi = math.cos(d) * math.sin(r - r0) / cos_c
    eta = (math.cos(d0) * math.sin(d) - math.sin(d0) * math.cos(d) * math.cos(r - r0)) / cos_c
    return math.degrees(xi), math.degrees(eta)


def _outline(row: dict) -> list[tuple[float, float]]:
    numbers = row.get("outline") or []
    return [(numbers[i], numbers[i + 1]) for i in range(0, len(numbers) - 1, 2)]


def sky_svg(rows: list[dict], cone: tuple[float, float, float] | None = None) -> str:
    """An SVG image of the rows' footprints (and of the cone), or '' when none has one or
    they are spread over more than MAX_FIELD degrees."""
    shapes = [(row, _outline(row)) for row in rows]
    shapes = [(row, outline) for row, outline in shapes if len(outline) >= 3]
    if not shapes and cone is None:
        return ""
    points = [p for _, outline in shapes for p in outline] or [cone[:2]]
    ra0, dec0 = _centre(points + ([cone[:2]] if cone else []))
    projected = [(row, [q for q in (_project(ra, dec, ra0, dec0) for ra, dec in outline) if q])
                 for row, outline in shapes]
    xs = [x for _, outline in projected for x, _ in outline]
    ys = [y for _, outline in projected for _, y in outline]
    if cone:  # the whole circle in view
        cx, cy = _project(cone[0], cone[1], ra0, dec0) or (0.0, 0.0)
        xs += [cx - cone[2], cx + cone[2]]
        ys += [cy - cone[2], cy + cone[2]]
    half = max(max(map(abs, xs), default=0), max(map(abs, ys), default=0), MIN_FIELD / 2) * 1.1
    if half > MAX_FIELD / 2:  # footprints of arcminutes would be specks: no picture
        return ""
    scale = (SIZE / 2 - MARGIN) / half

    def pixel(x: float, y: float) -> str:
        # east (positive xi) to the left, north up
        return f"{SIZE / 2 - x * scale:.1f},{SIZE / 2 - y * scale:.1f}"

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {SIZE} {SIZE}" '
             f'width="{SIZE}" height="{SIZE}" role="img" aria-labelledby="sky-title sky-desc" '
             f'class="sky">',
             '<title id="sky-title">Footprints of this page\'s results</title>',
             f'<desc id="sky-desc">{len(projected)} footprints about RA {ra0:.4f}°, Dec '
             f'{dec0:.4f}°, {2 * half * 60:.1f} arcminutes across; north up, east left.</desc>',
             f'<rect x="0" y="0" width="{SIZE}" height="{SIZE}" class="sky-ground"/>']
    for row, outline in projected:
        if len(outline) < 3:
            continue
        name = escape(str(row.get("obs_id", "")))
        parts.append(f'<polygon points="{" ".join(pixel(x, y) for x, y in outline)}" '
                     f'class="footprint" data-obs-id="{name}"><title>{name} '
                     f'({escape(str(row.get("instrument_name") or ""))})</title></polygon>')
    if cone:
        centre = _project(cone[0], cone[1], ra0, dec0) or (0.0, 0.0)
        cx, cy = pixel(*centre).split(",")
        parts.append(f'<circle cx="{cx}" cy="{cy}" r="{cone[2] * scale:.1f}" class="cone">'
                     f'<title>the search cone ({cone[2] * 60:.2f} arcminutes)</title></circle>')
    parts.append(f'<text x="{SIZE - MARGIN}" y="{MARGIN + 4}" class="compass" text-anchor="end">N ↑ E ←</text>')
    parts.append(f'<text x="{MARGIN}" y="{SIZE - 6}" class="compass">{2 * half * 60:.1f}′ across</text>')
    parts.append("</svg>")
    return "".join(parts)
