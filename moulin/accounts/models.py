"""Organisations, people and what they may do: the back-office of Moulin."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from moulin.core import policy
from moulin.core.models import TenantModel


class Organisation(models.Model):
    """A tenant: one company using Moulin. Nothing crosses from one organisation to another."""

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("short name"), max_length=60, unique=True)
    language = models.CharField(
        _("default language"), max_length=8, choices=settings.LANGUAGES, default="fr"
    )
    timezone = models.CharField(_("time zone"), max_length=64, default="Europe/Paris")
    currency = models.CharField(_("reporting currency"), max_length=3, default="EUR")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")

    def __str__(self) -> str:
        return self.name


class Department(TenantModel):
    """A part of the company (Product, Sales, …); permissions are granted per department."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="departments"
    )
    name = models.CharField(_("name"), max_length=120)
    # A stable key for the built-in departments ("sales") so that defaults survive renaming;
    # departments an admin creates get a slug of their name and start from the "custom" grants.
    key = models.SlugField(_("key"), max_length=60)
    description = models.CharField(_("description"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "key"], name="department_unique_key"),
            models.UniqueConstraint(fields=["organisation", "name"], name="department_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class Squad(TenantModel):
    """A product team that owns features and roadmap items."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="squads")
    name = models.CharField(_("name"), max_length=120)
    mission = models.CharField(_("mission"), max_length=300, blank=True)
    lead = models.ForeignKey(
        "Member", verbose_name=_("lead"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("squad")
        verbose_name_plural = _("squads")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "name"], name="squad_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def get_by_natural_key(self, username: str | None) -> User:
        # Addresses are stored lowercased; people type them in any case when signing in.
        return self.get(email__iexact=username)

    def create_superuser(self, email: str, password: str | None = None, **fields) -> User:
        fields.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in. Their place in an organisation is their ``Member`` row."""

    email = models.EmailField(_("email address"), unique=True)
    full_name = models.CharField(_("full name"), max_length=150)
    language = models.CharField(
        _("language"), max_length=8, choices=settings.LANGUAGES, blank=True,
        help_text=_("Leave empty to use the organisation's language."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    is_staff = models.BooleanField(_("staff"), default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["full_name"]

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.full_name or self.email

    def get_full_name(self) -> str:
        return self.full_name

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


class Member(TenantModel):
    """A user's place in an organisation: role, department, squads."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="members"
    )
    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="member")
    role = models.CharField(_("role"), max_length=32, choices=policy.Role.CHOICES)
    department = models.ForeignKey(
        Department, verbose_name=_("department"), on_delete=models.PROTECT, related_name="members"
    )
    squads = models.ManyToManyField(Squad, verbose_name=_("squads"), blank=True,
                                    related_name="members")
    job_title = models.CharField(_("job title"), max_length=120, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        indexes = [models.Index(fields=["organisation", "role"])]

    def __str__(self) -> str:
        return str(self.user)

    @cached_property
    def _levels(self) -> dict[str, policy.Level]:
        """Effective level per module: min(role cap, department grant), overrides applied."""
        rows = PermissionGrant.objects.filter(organisation_id=self.organisation_id).filter(
            models.Q(subject_type=PermissionGrant.ROLE, subject=self.role)
            | models.Q(subject_type=PermissionGrant.DEPARTMENT, subject=str(self.department_id))
        )
        overrides = {(row.subject_type, row.module): policy.Level(row.level) for row in rows}
        department_key = self.department.key
        levels = {}
        for module in policy.MODULES:
            cap = overrides.get(
                (PermissionGrant.ROLE, module), policy.default_role_cap(self.role, module)
            )
            grant = overrides.get(
                (PermissionGrant.DEPARTMENT, module),
                policy.default_department_grant(department_key, module),
            )
            levels[module] = min(cap, grant)
        return levels

    def level_for(self, module: str) -> policy.Level:
        return self._levels.get(module, policy.Level.NONE)

    @property
    def is_admin(self) -> bool:
        return self.role == policy.Role.ADMIN

    @property
    def email(self) -> str:
        return self.user.email

    @property
    def name(self) -> str:
        return self.user.full_name


class PermissionGrant(TenantModel):
    """An admin's change to one cell of a permission matrix (role × module or department × module).

    Cells without a row use the defaults of ``moulin.core.policy``.
    """

    ROLE = "role"
    DEPARTMENT = "department"
    SUBJECT_TYPES = [(ROLE, _("Role")), (DEPARTMENT, _("Department"))]

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="permission_grants"
    )
    subject_type = models.CharField(max_length=16, choices=SUBJECT_TYPES)
    # A role key ("viewer") or a department id ("12").
    subject = models.CharField(max_length=64)
    module = models.CharField(max_length=32)
    level = models.PositiveSmallIntegerField(
        choices=[(int(level), label) for level, label in policy.LEVEL_LABELS.items()]
    )

    def __str__(self) -> str:
        return f"{self.subject_type}:{self.subject} {self.module}={self.level}"

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "subject_type", "subject", "module"],
                name="permission_grant_unique_cell",
            ),
        ]


def hash_secret(raw: str) -> str:
    """One-way hash used for API tokens and invitation links (only the hash is stored)."""
    return hashlib.sha256(raw.encode()).hexdigest()


class Invitation(TenantModel):
    """A link sent by email that lets a new person join the organisation with a set role."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="invitations"
    )
    email = models.EmailField(_("email address"))
    full_name = models.CharField(_("full name"), max_length=150, blank=True)
    role = models.CharField(_("role"), max_length=32, choices=policy.Role.CHOICES)
    department = models.ForeignKey(Department, verbose_name=_("department"),
                                   on_delete=models.CASCADE, related_name="+")
    squads = models.ManyToManyField(Squad, verbose_name=_("squads"), blank=True, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(Member, null=True, on_delete=models.SET_NULL, related_name="+")
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.email

    @property
    def status(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "pending"

    @staticmethod
    def new_token() -> str:
        return secrets.token_urlsafe(32)


class ApiToken(TenantModel):
    """A personal API token. The secret is shown once; only its hash is stored."""

    READ = "read"
    WRITE = "write"
    SCOPES = [(READ, _("Read only")), (WRITE, _("Read and write"))]
    PREFIX = "mln_"

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="api_tokens"
    )
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    scope = models.CharField(_("scope"), max_length=8, choices=SCOPES, default=READ)
    token_hash = models.CharField(max_length=64, unique=True)
    # The first characters, shown in lists so a person can tell their tokens apart.
    token_prefix = models.CharField(max_length=12)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.token_prefix}…)"

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and (
            self.expires_at is None or self.expires_at > timezone.now()
        )

    @classmethod
    def new_secret(cls) -> str:
        return cls.PREFIX + secrets.token_urlsafe(32)


class AuditEntryQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("The audit log is append-only.")

    def delete(self):
        raise TypeError("The audit log is append-only.")


class AuditEntry(models.Model):
    """One line of the append-only audit log: who did what, when, from where."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="audit_entries"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    # Kept as text so the line still says who it was after the member is deleted.
    actor_email = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=300, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    via = models.CharField(max_length=16, default="web")  # web, api, cli, task

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organisation", "-created_at"])]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_email} {self.action}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise TypeError("The audit log is append-only: entries cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("The audit log is append-only: entries cannot be deleted.")
