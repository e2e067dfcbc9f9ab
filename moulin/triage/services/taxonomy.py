"""The taxonomy: product areas → themes. Create, edit, archive, restore and merge themes.

Themes are never deleted: an archived theme keeps its links (history, filters) but is no longer
suggested; a merged theme is archived and points at the theme that absorbed it, whose links it
received. Any change to what the model learns from (names, description, examples, the set of
themes) asks for a retraining in the background.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from moulin.accounts.audit import Origin, audit_record
from moulin.accounts.models import Member
from moulin.core import parsing
from moulin.core.errors import Conflict, DomainError
from moulin.feedback.models import ProductArea
from moulin.feedback.services import personal_data_pattern
from moulin.triage.models import FeedbackTheme, Theme
from moulin.triage.models import Origin as LinkOrigin

MAX_NAME = 120
MAX_DESCRIPTION = 2000
MAX_EXAMPLES = 20
MAX_EXAMPLE = 300
MAX_ACTIVE_THEMES = 1000


@dataclass
class ThemeInput:
    """A theme as a form or the API sends it, before cleaning."""

    name_en: str = ""
    name_fr: str = ""
    description: str = ""
    examples: list[str] | str | None = None
    product_area_id: int | None = None


def clean_examples(value: list[str] | str | None) -> list[str]:
    """Example phrases from a list or from text with one phrase per line."""
    if value is None:
        return []
    lines = value.splitlines() if isinstance(value, str) else [str(v) for v in value]
    examples: list[str] = []
    seen: set[str] = set()
    for line in lines:
        text = parsing.clean_text(line)
        if not text or text.lower() in seen:
            continue
        if len(text) > MAX_EXAMPLE:
            raise DomainError(_("Each example phrase has at most %d characters.") % MAX_EXAMPLE,
                              field="examples")
        if len(examples) == MAX_EXAMPLES:  # said at once, not after reading a pasted book
            raise DomainError(_("At most %d example phrases per theme.") % MAX_EXAMPLES,
                              field="examples")
        seen.add(text.lower())
        examples.append(text)
    return examples


def _clean(actor: Member, data: ThemeInput, theme: Theme | None) -> dict:
    name_en = parsing.clean_text(data.name_en)
    name_fr = parsing.clean_text(data.name_fr)
    if not name_en and not name_fr:
        raise DomainError(_("Give the theme a name (in English, French or both)."),
                          field="name_en")
    for field, value in (("name_en", name_en), ("name_fr", name_fr)):
        if len(value) > MAX_NAME:
            raise DomainError(_("A theme name has at most %d characters.") % MAX_NAME,
                              field=field)
    description = parsing.clean_text(data.description)
    if len(description) > MAX_DESCRIPTION:
        raise DomainError(_("The description has at most %d characters.") % MAX_DESCRIPTION,
                          field="description")
    area = None
    if data.product_area_id:
        area = ProductArea.objects.filter(organisation_id=actor.organisation_id,
                                          pk=data.product_area_id).first()
        if area is None:
            raise DomainError(_("Choose a product area of your organisation."),
                              field="product_area_id")
    values = {"name_en": name_en or name_fr, "name_fr": name_fr or name_en,
              "description": description, "examples": clean_examples(data.examples),
              "product_area": area}
    clash = Theme.objects.filter(organisation_id=actor.organisation_id, archived_at=None)
    if theme is not None:
        clash = clash.exclude(pk=theme.pk)
    names = {values["name_en"].lower(), values["name_fr"].lower()}
    clash = clash.annotate(en=Lower("name_en"), fr=Lower("name_fr")).filter(
        Q(en__in=names) | Q(fr__in=names)).first()
    if clash is not None:
        raise Conflict(_("A theme called “%s” already exists: edit it or merge into it.")
                       % clash.name, field="name_en")
    return values


def _taxonomy_changed(actor: Member | None, organisation_id: int) -> None:
    """The model must learn the new taxonomy: ask for a retraining (after commit)."""
    from moulin.triage.services.training import model_retrain_request

    model_retrain_request(organisation_id=organisation_id, actor=actor, trigger="taxonomy")


def theme_create(*, actor: Member, origin: Origin, data: ThemeInput) -> Theme:
    """Add a theme; suggestions include it once the background retraining has run."""
    values = _clean(actor, data, None)
    active = Theme.objects.filter(organisation_id=actor.organisation_id,
                                  archived_at=None).count()
    if active >= MAX_ACTIVE_THEMES:
        raise DomainError(_("At most %d active themes: archive or merge some first.")
                          % MAX_ACTIVE_THEMES)
    theme = Theme.objects.create(organisation_id=actor.organisation_id, created_by=actor,
                                 **values)
    audit_record(organisation=actor.organisation, actor=actor, action="theme.created",
                 origin=origin, target=theme, target_label=theme.name_en)
    _taxonomy_changed(actor, actor.organisation_id)
    return theme


def theme_update(*, actor: Member, origin: Origin, theme: Theme, data: ThemeInput) -> Theme:
    """Rename or re-describe a theme; what the model learns from changes, so it retrains."""
    if theme.organisation_id != actor.organisation_id:
        raise DomainError(_("This theme is not in your organisation."))
    if theme.merged_into_id:
        raise DomainError(_("This theme was merged into another one: edit that one instead."))
    values = _clean(actor, data, theme)
    changes = {}
    for key, value in values.items():
        old = getattr(theme, key)
        if old != value:
            changes[key] = [str(old) if key == "product_area" else old,
                            str(value) if key == "product_area" else value]
            setattr(theme, key, value)
    if not changes:
        return theme
    theme.save()
    audit_record(organisation=actor.organisation, actor=actor, action="theme.updated",
                 origin=origin, target=theme, target_label=theme.name_en,
                 changes={k: v for k, v in changes.items() if k != "examples"})
    if set(changes) - {"product_area"} and theme.archived_at is None:
        _taxonomy_changed(actor, actor.organisation_id)
    return theme


def theme_archive(*, actor: Member, origin: Origin, theme: Theme) -> Theme:
    """Stop suggesting a theme; its links stay (history and filters still show it)."""
    if theme.organisation_id != actor.organisation_id:
        raise DomainError(_("This theme is not in your organisation."))
    if theme.archived_at is not None:
        return theme
    theme.archived_at = timezone.now()
    theme.save(update_fields=["archived_at", "updated_at"])
    audit_record(organisation=actor.organisation, actor=actor, action="theme.archived",
                 origin=origin, target=theme, target_label=theme.name_en)
    _taxonomy_changed(actor, actor.organisation_id)
    return theme


def theme_restore(*, actor: Member, origin: Origin, theme: Theme) -> Theme:
    """Suggest an archived theme again (not a merged one: its links moved away)."""
    if theme.organisation_id != actor.organisation_id:
        raise DomainError(_("This theme is not in your organisation."))
    if theme.merged_into_id:
        raise DomainError(_("A merged theme cannot be restored: its feedback moved to “%s”.")
                          % theme.merged_into.name)
    if theme.archived_at is None:
        return theme
    _clean(actor, ThemeInput(name_en=theme.name_en, name_fr=theme.name_fr,
                             description=theme.description, examples=theme.examples,
                             product_area_id=theme.product_area_id), theme)  # name clash?
    theme.archived_at = None
    theme.save(update_fields=["archived_at", "updated_at"])
    audit_record(organisation=actor.organisation, actor=actor, action="theme.restored",
                 origin=origin, target=theme, target_label=theme.name_en)
    _taxonomy_changed(actor, actor.organisation_id)
    return theme


def theme_merge(*, actor: Member, origin: Origin, theme: Theme, into: Theme) -> Theme:
    """Merge ``theme`` into ``into``: its feedback links move over (one link per item), its
    example phrases join the target's, and it is archived pointing at the target."""
    if actor.organisation_id != theme.organisation_id or \
            actor.organisation_id != into.organisation_id:
        raise DomainError(_("Both themes must be in your organisation."), field="into")
    if theme.pk == into.pk:
        raise DomainError(_("Choose another theme to merge into."), field="into")
    with transaction.atomic():
        # Both rows locked and read again (in id order): two merges of the same theme at once
        # (into two targets) must not both pass the checks below.
        locked = {row.pk: row for row in Theme.objects.select_for_update().filter(
            pk__in=[theme.pk, into.pk]).order_by("pk")}
        theme, into = locked[theme.pk], locked[into.pk]
        if theme.merged_into_id:  # a state clash (409), as for an item merged twice
            raise Conflict(_("This theme is already merged into “%(name)s”.")
                           % {"name": theme.merged_into.name})
        if into.archived_at is not None:
            raise DomainError(_("“%s” is archived: restore it before merging into it.")
                              % into.name, field="into")
        links = list(FeedbackTheme.objects.select_for_update().filter(theme=theme))
        already = set(FeedbackTheme.objects.filter(
            theme=into, feedback_id__in=[link.feedback_id for link in links])
            .values_list("feedback_id", flat=True))
        moved = [link for link in links if link.feedback_id not in already]
        FeedbackTheme.objects.filter(pk__in=[link.pk for link in links
                                             if link.feedback_id in already]).delete()
        for link in moved:
            link.theme = into
            if link.origin != LinkOrigin.AUTOMATIC:
                link.origin = LinkOrigin.MERGE
        FeedbackTheme.objects.bulk_update(moved, ["theme", "origin"], batch_size=1000)
        # Themes merged into this one earlier now point at the final target.
        Theme.objects.filter(merged_into=theme).update(merged_into=into,
                                                       updated_at=timezone.now())
        examples = list(into.examples or [])
        for phrase in [theme.name_en, *(theme.examples or [])]:
            if len(examples) < MAX_EXAMPLES and phrase.lower() not in {e.lower()
                                                                       for e in examples}:
                examples.append(phrase[:MAX_EXAMPLE])
        into.examples = examples
        into.save(update_fields=["examples", "updated_at"])
        theme.merged_into = into
        theme.archived_at = theme.archived_at or timezone.now()
        theme.save(update_fields=["merged_into", "archived_at", "updated_at"])
        audit_record(organisation=actor.organisation, actor=actor, action="theme.merged",
                     origin=origin, target=theme, target_label=theme.name_en,
                     changes={"into": into.name_en, "links_moved": len(moved)})
    _taxonomy_changed(actor, actor.organisation_id)
    return into


def themes_scrub_personal_data(*, organisation_id: int, needles: list[str],
                               replacement: str) -> int:
    """GDPR erasure: replace a person's name and address in the example phrases and description
    of every theme of the organisation (archived and merged ones too); returns the count."""
    if not needles:
        return 0
    pattern = personal_data_pattern(needles)
    now = timezone.now()
    changed = []
    # A few hundred themes at most, and examples live in JSON: filtered here, not in SQL.
    for theme in Theme.objects.filter(organisation_id=organisation_id).only(
            "pk", "examples", "description"):
        old = list(theme.examples or [])
        examples = [pattern.sub(replacement, str(phrase)) for phrase in old]
        description = pattern.sub(replacement, theme.description)
        if examples != old or description != theme.description:
            theme.examples, theme.description, theme.updated_at = examples, description, now
            changed.append(theme)
    Theme.objects.bulk_update(changed, ["examples", "description", "updated_at"])
    if changed:
        # The active model learned these phrases as seed examples: it must unlearn them.
        _taxonomy_changed(None, organisation_id)
    return len(changed)


def themes_by_id(*, organisation_id: int) -> dict[int, Theme]:
    """Every theme of an organisation (archived and merged ones included), by id."""
    return {t.pk: t for t in Theme.objects.filter(organisation_id=organisation_id)}


def theme_resolve(theme_id: int, themes: dict[int, Theme]) -> Theme | None:
    """Follow merges to the theme that stands for ``theme_id`` today (None when unknown)."""
    seen: set[int] = set()
    theme = themes.get(theme_id)
    while theme is not None and theme.merged_into_id and theme.pk not in seen:
        seen.add(theme.pk)
        theme = themes.get(theme.merged_into_id)
    return theme


def suggestions_shown(stored: object, themes: dict[int, Theme]) -> list[tuple[Theme, float]]:
    """An item's stored suggestions as people see and pick them: each theme as it stands
    today (merges followed), archived themes left out, each theme once, in the model's order.
    Suggestion N on a page, in the keyboard shortcuts and in the API is the N-th of these."""
    shown: list[tuple[Theme, float]] = []
    for entry in stored if isinstance(stored, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("theme"), int):
            continue
        theme = theme_resolve(entry["theme"], themes)
        if theme is None or theme.archived_at is not None or \
                any(seen.pk == theme.pk for seen, _confidence in shown):
            continue
        try:
            confidence = float(entry.get("confidence") or 0)
        except (TypeError, ValueError):
            confidence = 0.0
        shown.append((theme, confidence))
    return shown
