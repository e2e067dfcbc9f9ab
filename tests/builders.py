"""Small builders for test data: one ``make_<entity>()`` per thing a test needs."""

from __future__ import annotations

import itertools

from moulin.accounts import services
from moulin.accounts.audit import CLI
from moulin.accounts.models import ApiToken, Department, Member, Organisation, Squad
from moulin.core.policy import Role

PASSWORD = "correct-horse-battery-staple"
_counter = itertools.count(1)


def make_organisation(name: str | None = None, language: str = "en") -> Organisation:
    n = next(_counter)
    return services.organisation_create(name=name or f"Org {n}", slug=f"org-{n}",
                                        language=language)


def department(organisation: Organisation, key: str) -> Department:
    return Department.objects.get(organisation=organisation, key=key)


def make_squad(organisation: Organisation, name: str | None = None) -> Squad:
    return Squad.objects.create(organisation=organisation, name=name or f"Squad {next(_counter)}")


def make_member(organisation: Organisation, *, role: str = Role.CONTRIBUTOR,
                department_key: str = "product", email: str | None = None,
                full_name: str | None = None, language: str = "") -> Member:
    n = next(_counter)
    return services.member_create(
        organisation=organisation, email=email or f"person{n}@{organisation.slug}.test",
        full_name=full_name or f"Person {n}", role=role,
        department=department(organisation, department_key), password=PASSWORD,
        language=language,
    )


def make_token(member: Member, scope: str = ApiToken.WRITE) -> str:
    _token, secret = services.api_token_create(actor=member, origin=CLI, name="tests",
                                               scope=scope)
    return secret
