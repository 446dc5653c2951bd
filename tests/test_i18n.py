"""Every translatable string is translated into Swahili, and language selection works.

The extraction here reads the mapping from `babel.cfg` and the keywords from
`scripts/i18n-extract`, so it sees exactly what `pybabel extract` sees: a new `_("...")`
in Python or a template without a Swahili translation fails this test.
"""

from __future__ import annotations

import contextvars
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_keywords, parse_mapping_cfg
from babel.messages.pofile import read_po

from clinicflow import i18n

ROOT = Path(__file__).resolve().parents[1]
BABEL_CFG = ROOT / "babel.cfg"
EXTRACT_SCRIPT = ROOT / "scripts" / "i18n-extract"
SW_PO = i18n.LOCALE_DIR / "sw" / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"

# %(name)s and %s (Python/Jinja `trans` blocks), {name} (str.format); "%%" is a literal.
PLACEHOLDER = re.compile(r"%%|%(?:\([^)]*\))?[-#0 +]*\d*(?:\.\d+)?[sdifrxXeEgGc]|\{[^{}]*\}")


@dataclass(frozen=True)
class Extracted:
    msgid: str
    context: str | None
    where: str


def extract_keywords() -> dict[str, Any]:
    """The default keywords plus the `--keywords=` given in scripts/i18n-extract."""
    specs = [
        arg.split("=", 1)[1]
        for arg in shlex.split(EXTRACT_SCRIPT.read_text(encoding="utf-8"), comments=True)
        if arg.startswith("--keywords=")
    ]
    assert specs, f"no --keywords= found in {EXTRACT_SCRIPT}"
    return {**DEFAULT_KEYWORDS, **parse_keywords(specs)}


def extract_messages(root: Path = ROOT) -> list[Extracted]:
    with BABEL_CFG.open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg, filename=str(BABEL_CFG))  # type: ignore[no-untyped-call]
    found = []
    for filename, lineno, message, _comments, context in extract_from_dir(
        root, method_map, options_map, keywords=extract_keywords()
    ):
        singular = message[0] if isinstance(message, tuple) else message
        if singular:
            found.append(Extracted(singular, context, f"{filename}:{lineno}"))
    return found


def load_catalog(path: Path = SW_PO) -> Catalog:
    with path.open("rb") as po_file:
        return read_po(po_file, locale="sw")


def translations_of(message: Message) -> list[str]:
    string = message.string
    return list(string) if isinstance(string, tuple | list) else [string or ""]


def is_translated(message: Message) -> bool:
    return not message.fuzzy and all(translations_of(message))


def untranslated(messages: Iterable[Extracted], catalog: Catalog) -> list[str]:
    problems = []
    for message in messages:
        entry = catalog.get(message.msgid, message.context)
        if entry is None:
            problems.append(f"{message.where}: {message.msgid!r} is not in the catalog")
        elif not is_translated(entry):
            problems.append(f"{message.where}: {message.msgid!r} is fuzzy or not translated")
    return sorted(set(problems))


def placeholders(text: str) -> set[str]:
    return {match for match in PLACEHOLDER.findall(text) if match != "%%"}


def test_extraction_sees_python_templates_and_gettext_in() -> None:
    msgids = {message.msgid for message in extract_messages()}
    assert "Home" in msgids  # _() in Python
    assert "Sign in" in msgids  # _() in a template
    assert "Welcome, %(name)s" in msgids  # {% trans %} block, trimmed
    assert "Your clinicflow code is {code}. It expires in {minutes} minutes." in msgids


def test_every_extracted_message_has_a_swahili_translation() -> None:
    problems = untranslated(extract_messages(), load_catalog())
    assert not problems, (
        f"{len(problems)} message(s) lack a Swahili translation; run scripts/i18n-extract "
        f"and translate them in {SW_PO.relative_to(ROOT)}:\n" + "\n".join(problems)
    )


def test_the_swahili_catalog_holds_only_strings_the_sources_use() -> None:
    """A string removed from the code leaves the catalogue too (scripts/i18n-extract drops
    it), so translators never work on words nobody will see."""
    used = {(message.msgid, message.context) for message in extract_messages()}
    unused = [
        message.id
        for message in load_catalog()
        if message.id and (_singular(message.id), message.context) not in used
    ]
    assert not unused, f"run scripts/i18n-extract; no source uses: {unused}"


def _singular(msgid: str | tuple[str, ...]) -> str:
    return msgid if isinstance(msgid, str) else msgid[0]


def test_a_new_untranslated_string_is_reported(tmp_path: Path) -> None:
    package = tmp_path / "src" / "clinicflow"
    (package / "web" / "templates").mkdir(parents=True)
    (package / "new_feature.py").write_text(
        'from clinicflow.i18n import gettext as _\n\nLABEL = _("Sign in")\nNEW = _("Brand new")\n',
        encoding="utf-8",
    )
    (package / "web" / "templates" / "new.html").write_text(
        "<p>{% trans n=3 %}\n  {{ n }} fresh\n  items\n{% endtrans %}</p>\n", encoding="utf-8"
    )
    problems = untranslated(extract_messages(tmp_path), load_catalog())
    assert len(problems) == 2, problems
    assert "'Brand new' is not in the catalog" in problems[0]
    assert "'%(n)s fresh items' is not in the catalog" in problems[1]


def test_swahili_catalog_has_no_fuzzy_or_empty_entries() -> None:
    catalog = load_catalog()
    assert not catalog.fuzzy, "the catalog header is marked fuzzy"
    bad = [message.id for message in catalog if message.id and not is_translated(message)]
    assert not bad, f"fuzzy or empty entries in {SW_PO.name}: {bad}"


def test_swahili_translations_keep_the_placeholders() -> None:
    mismatched = []
    for message in load_catalog():
        if not message.id:
            continue
        if isinstance(message.id, tuple | list):
            expected = placeholders(message.id[-1])
        else:
            expected = placeholders(message.id)
        for string in translations_of(message):
            if string and placeholders(string) != expected:
                mismatched.append(f"{message.id!r}: {sorted(expected)} vs {string!r}")
    assert not mismatched, "placeholders differ:\n" + "\n".join(mismatched)


def test_gettext_in_translates_per_language() -> None:
    assert i18n.gettext_in("sw", "Sign in") == "Ingia"
    assert i18n.gettext_in("en", "Sign in") == "Sign in"
    assert i18n.gettext_in("xx", "Sign in") == "Sign in"
    sms = "Your clinicflow code is {code}. It expires in {minutes} minutes."
    body = i18n.gettext_in("sw", sms).format(code="123456", minutes=10)
    assert "123456" in body
    assert "10" in body
    assert body != sms.format(code="123456", minutes=10)


def test_gettext_follows_the_current_language() -> None:
    def in_language(language: str, message: str) -> str:
        i18n.set_language(language)
        return i18n.gettext(message)

    # A copied context, so the language set here does not leak into other tests.
    assert contextvars.copy_context().run(in_language, "sw", "Sign out") == "Toka"
    assert contextvars.copy_context().run(in_language, "en", "Sign out") == "Sign out"


@pytest.mark.parametrize(
    ("candidates", "accept_language", "expected"),
    [
        (("sw",), "en-GB,en;q=0.9", "sw"),
        (("en",), "sw-KE,sw;q=0.9", "en"),
        ((None, "fr"), "sw-KE,sw;q=0.9,en;q=0.8", "sw"),
        ((), "sw-KE,sw;q=0.9,en;q=0.8", "sw"),
        ((), "SW", "sw"),
        ((), "fr-FR,fr;q=0.9,en;q=0.8", "en"),
        ((), "fr-FR,de;q=0.5", "en"),
        ((None,), None, "en"),
        ((), "", "en"),
    ],
)
def test_pick_language(
    candidates: tuple[str | None, ...], accept_language: str | None, expected: str
) -> None:
    assert i18n.pick_language(*candidates, accept_language=accept_language) == expected
