"""The French catalogue is complete and compiled; the interface speaks the visitor's language."""

import ast
import gettext
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings

LOCALE = Path(settings.LOCALE_PATHS[0])
FR_PO = LOCALE / "fr" / "LC_MESSAGES" / "django.po"
FR_MO = LOCALE / "fr" / "LC_MESSAGES" / "django.mo"
SIGN_IN = "/sign-in/"
PLACEHOLDER = re.compile(r"%(?:\([a-z_]+\))?[sdif]")


@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: dict[int | None, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)

    @property
    def label(self) -> str:
        return f"{self.msgctxt}|{self.msgid}" if self.msgctxt else self.msgid


def parse_po(path: Path) -> list[Entry]:
    """A small .po reader: contexts, plurals, flags and multi-line strings (no obsolete #~)."""
    entries: list[Entry] = []
    entry, target = None, None
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        line = line.strip()
        if not line:
            if entry is not None and target is not None:
                entries.append(entry)
            entry, target = None, None
            continue
        entry = entry or Entry()
        if line.startswith("#,"):
            entry.flags |= {flag.strip() for flag in line[2:].split(",")}
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            value = ast.literal_eval(line)
            if isinstance(target, tuple):
                entry.msgstr[target[1]] += value
            else:
                setattr(entry, target, getattr(entry, target) + value)
        else:
            keyword, value = line.split(" ", 1)
            value = ast.literal_eval(value)
            match = re.fullmatch(r"msgstr(?:\[(\d+)\])?", keyword)
            if match:
                index = int(match.group(1)) if match.group(1) is not None else None
                target = ("msgstr", index)
                entry.msgstr[index] = value
            else:
                target = keyword
                setattr(entry, keyword, value)
    return entries


@pytest.fixture(scope="module")
def french():
    entries = parse_po(FR_PO)
    assert entries and entries[0].msgid == "", "the catalogue has no header"
    return entries[1:]


def test_french_catalogue_has_no_untranslated_or_fuzzy_entry(french):
    untranslated = [e.label for e in french if not all(e.msgstr.values())]
    fuzzy = [e.label for e in french if "fuzzy" in e.flags]

    assert not untranslated, ("Translate these in moulin/locale/fr/LC_MESSAGES/django.po "
                              f"(see docs/translation.md): {untranslated}")
    assert not fuzzy, f"Check these fuzzy translations and remove the flag: {fuzzy}"


def test_french_translations_keep_their_placeholders(french):
    broken = []
    for e in french:
        for index, text in e.msgstr.items():
            source = e.msgid_plural if index else e.msgid
            # French singular also covers 0 and 1, so its placeholders must match the singular.
            if sorted(PLACEHOLDER.findall(text)) != sorted(PLACEHOLDER.findall(source)):
                broken.append(e.label)
    assert not broken, f"Placeholders differ from the English text: {broken}"


def test_french_translations_use_typographic_apostrophes(french):
    # A straight quote would also break strings rendered inside onsubmit="confirm('…')".
    straight = [e.label for e in french if any("'" in text for text in e.msgstr.values())]
    assert not straight, f"Use ’ instead of ' in: {straight}"


def test_compiled_catalogue_matches_the_po_file(french):
    with FR_MO.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = []
    for e in french:
        if e.msgid_plural is not None:
            got = [compiled.npgettext(e.msgctxt, e.msgid, e.msgid_plural, n) if e.msgctxt
                   else compiled.ngettext(e.msgid, e.msgid_plural, n) for n in (1, 2)]
            expected = [e.msgstr[0], e.msgstr[1]]
        else:
            got = [compiled.pgettext(e.msgctxt, e.msgid) if e.msgctxt
                   else compiled.gettext(e.msgid)]
            expected = [e.msgstr[None]]
        if got != expected:
            stale.append(e.label)
    assert not stale, f"Run `manage.py compilemessages` (django.mo is stale): {stale}"


@pytest.mark.django_db
def test_sign_in_page_speaks_french_to_a_french_browser(client):
    page = client.get(SIGN_IN, HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9").content.decode()

    assert '<html lang="fr">' in page
    assert "Se connecter" in page
    assert "Mot de passe oublié" in page
    assert "Sign in" not in page


@pytest.mark.django_db
def test_sign_in_page_speaks_english_to_an_english_browser(client):
    page = client.get(SIGN_IN, HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9").content.decode()

    assert '<html lang="en">' in page
    assert "Sign in" in page
    assert "Forgot your password?" in page
    assert "Se connecter" not in page


@pytest.mark.django_db
def test_language_cookie_wins_over_the_browser_language(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"

    page = client.get(SIGN_IN, HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9").content.decode()

    assert "Se connecter" in page
