import pytest

from paperwire.papers.ids import InvalidPaperId, arxiv_id, normalize_id


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2410.10819", "2410.10819"),
        ("2410.10819v12", "2410.10819"),
        ("2410.10819V2", "2410.10819"),
        ("arXiv:2410.10819V2", "2410.10819"),
        ("https://arxiv.org/abs/2410.10819V3", "2410.10819"),
        ("hep-th/9901001V3", "hep-th/9901001"),
        ("２４１０.１０８１９", None),  # full-width digits are not an arXiv id
        ("2410.10819v٣", None),
        (" arXiv:2410.10819v2 ", "2410.10819"),
        ("https://arxiv.org/abs/2410.10819v2", "2410.10819"),
        ("http://export.arxiv.org/abs/2410.10819", "2410.10819"),
        ("https://arxiv.org/pdf/2410.10819v1.pdf", "2410.10819"),
        ("https://arxiv.org/pdf/2410.10819", "2410.10819"),
        ("https://huggingface.co/papers/2410.10819", "2410.10819"),
        ("hep-th/9901001v3", "hep-th/9901001"),
        ("math.GT/0309136", "math.GT/0309136"),
        ("https://arxiv.org/abs/hep-th/9901001", "hep-th/9901001"),
        ("0704.0001", "0704.0001"),
        ("2410.1081", None),
        ("https://example.org/abs/2410.10819", None),
        ("lab-note", None),
    ],
)
def test_arxiv_ids(text, expected):
    assert arxiv_id(text) == expected


@pytest.mark.parametrize(
    "raw", ["", "   ", None, 12, "has space", "-leading", "x" * 65, "a/b", "trending", "x.md", "２４１０.１０８１９"]
)
def test_invalid_local_ids(raw):
    with pytest.raises(InvalidPaperId):
        normalize_id(raw)


def test_local_ids_are_kept():
    assert normalize_id("lab:note-7.1") == "lab:note-7.1"
