"""Base models shared by every domain app."""

from django.db import models


class TenantQuerySet(models.QuerySet):
    def for_organisation(self, organisation_id: int) -> "TenantQuerySet":
        return self.filter(organisation_id=organisation_id)


class TenantModel(models.Model):
    """A row owned by one organisation. Every tenant-owned model inherits from this.

    Subclasses declare the ``organisation`` foreign key themselves (so ``core`` does not import
    ``accounts``); the policy's ``scope()`` filters on ``organisation_id``.
    """

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True
