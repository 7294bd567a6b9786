"""Every string we add is translated to French and Russian, and the compiled catalogues are current."""

import gettext
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

LOCALE = Path(settings.BASE_DIR) / "locale"
LANGUAGES = ["fr", "ru"]


def _unquote(parts):
    text = "".join(part.strip()[1:-1] for part in parts)
    return text.replace('\\"', '"').replace("\\n", "\n").replace("\\t", "\t").replace("\\\\", "\\")


def parse_po(path):
    """``[(msgid, msgstr, flags)]`` of a .po file (no plural forms in ours), the header excluded."""
    entries = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        lines = [line for line in block.splitlines() if not line.startswith("#~")]
        flags = {flag.strip() for line in lines if line.startswith("#,") for flag in line[2:].split(",")}
        msgid, msgstr, current = [], [], None
        for line in lines:
            if line.startswith("msgid_plural") or line.startswith("msgstr["):
                raise AssertionError(f"plural forms are not handled by this test: {line}")
            if line.startswith("msgid "):
                current = msgid
                msgid.append(line[6:])
            elif line.startswith("msgstr "):
                current = msgstr
                msgstr.append(line[7:])
            elif line.startswith('"') and current is not None:
                current.append(line)
        if msgid:
            entries.append((_unquote(msgid), _unquote(msgstr), flags))
    return [entry for entry in entries if entry[0]]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_msgstr_of_our_catalogue_is_filled(lang):
    entries = parse_po(LOCALE / lang / "LC_MESSAGES" / "django.po")
    assert len(entries) > 300
    empty = [msgid for msgid, msgstr, _ in entries if not msgstr.strip()]
    fuzzy = [msgid for msgid, _, flags in entries if "fuzzy" in flags]
    assert empty == [] and fuzzy == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_compiled_catalogue_matches_the_po_file(lang):
    directory = LOCALE / lang / "LC_MESSAGES"
    with open(directory / "django.mo", "rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    for msgid, msgstr, _ in parse_po(directory / "django.po"):
        assert compiled.gettext(msgid) == msgstr, msgid


@pytest.mark.django_db
@pytest.mark.parametrize("lang, words", [
    ("fr", ["Où va l'argent", "Aucune vente n'a encore été enregistrée."]),
    ("ru", ["Куда идут деньги", "Продаж пока не записано."]),
])
def test_the_public_page_speaks_the_fans_language(client, lang, words):
    with translation.override(lang):
        html = client.get(reverse("fundraising:transparency"), HTTP_ACCEPT_LANGUAGE=lang).content.decode()
    for word in words:
        assert word.replace("'", "&#x27;") in html or word in html
