"""Contrast of the site's colours, by WCAG 2's formula, in the light and the dark scheme.

Reads the custom properties of paperwire/static/paperwire/paperwire.css (`:root`, then the
ones `@media (prefers-color-scheme: dark)` sets again) and prints the ratio of each pair of
docs/ui.md's table; text needs 4.5:1 (AA), a field's border 3:1 (non-text).

    python bench/contrast.py [--css PATH]
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAIRS = (  # label, foreground, backgrounds
    ("text on cards / page", "--fg", ("--surface", "--bg")),
    ("muted text (meta lines, help) on cards / page", "--muted", ("--surface", "--bg")),
    ("links on cards / page", "--link", ("--surface", "--bg")),
    ("error text on cards", "--error", ("--surface",)),
    ("field borders on cards (non-text, 3:1 needed)", "--field-border", ("--surface",)),
)


def luminance(colour: str) -> float:
    digits = colour.lstrip("#")
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    channels = [int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def schemes(css: str) -> dict[str, dict[str, str]]:
    """The colours of each scheme: the dark one is the light one with what the media query sets."""
    light_block = re.search(r":root\s*{(.*?)}", css, re.S).group(1)
    dark_block = re.search(r"prefers-color-scheme:\s*dark\)\s*{\s*:root\s*{(.*?)}", css, re.S).group(1)
    light = dict(re.findall(r"(--[\w-]+):\s*(#[0-9a-fA-F]{3,6})\s*;", light_block))
    return {"light": light, "dark": {**light, **dict(re.findall(r"(--[\w-]+):\s*(#[0-9a-fA-F]{3,6})\s*;", dark_block))}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--css", type=Path, default=ROOT / "paperwire/static/paperwire/paperwire.css")
    args = parser.parse_args()
    colours = schemes(args.css.read_text())
    print(f"{'pair':<48}{'light':>14}{'dark':>14}")
    for label, foreground, backgrounds in PAIRS:
        cells = [
            " / ".join(f"{contrast(colours[s][foreground], colours[s][b]):.1f}" for b in backgrounds)
            for s in ("light", "dark")
        ]
        print(f"{label:<48}{cells[0]:>14}{cells[1]:>14}")


if __name__ == "__main__":
    main()
