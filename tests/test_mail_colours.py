"""Mail cannot use the site's stylesheet: its colours are inline. Every text colour set on a
coloured background in a mail template reads at WCAG AA contrast (4.5:1)."""

import re
from pathlib import Path

import pytest

TEMPLATES = Path(__file__).resolve().parent.parent / "paperwire" / "templates"
PAIR = re.compile(r"background:(#[0-9a-fA-F]{6});color:(#[0-9a-fA-F]{6})")


def luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_contrast_formula():
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#ff9d00", "#ffffff") < 4.5  # the buttons' old white text


MAIL_TEMPLATES = sorted(TEMPLATES.glob("**/email/*.html"))


@pytest.mark.parametrize("template", MAIL_TEMPLATES, ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_coloured_text_in_mail_reads_well(template):
    for background, colour in PAIR.findall(template.read_text()):
        assert contrast(background, colour) >= 4.5, (background, colour)


def test_mail_templates_are_found():
    assert len(MAIL_TEMPLATES) >= 3 and any(PAIR.search(t.read_text()) for t in MAIL_TEMPLATES)
