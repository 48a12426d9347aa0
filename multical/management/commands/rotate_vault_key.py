"""Re-seal every SealedTextField value under the current vault key.

Run it after moving the old secret to VAULT_PREVIOUS_SECRETS and setting the new VAULT_SECRET on
every process; once it reports nothing unreadable, the old secret can be dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import models, router, transaction
from django.views.decorators.debug import sensitive_variables

from multical.lib.vault import (
    SealedTextField,
    VaultError,
    context_for,
    needs_rotation,
    seal,
    unseal,
)


@dataclass
class _Tally:
    resealed: int = 0
    current: int = 0
    unreadable: list[tuple[Any, str]] = field(default_factory=list)


def sealed_fields_by_model() -> dict[type[models.Model], list[str]]:
    """Every concrete model with SealedTextField columns, and those columns' field names."""
    found = {}
    for model in apps.get_models():
        # A proxy shares its concrete model's table; local fields keep an inherited column to its
        # own model, so every column is visited exactly once.
        if model._meta.proxy:
            continue
        names = [
            f.name for f in model._meta.local_concrete_fields if isinstance(f, SealedTextField)
        ]
        if names:
            found[model] = names
    return found


class Command(BaseCommand):
    help = "Re-seal every sealed credential under the current VAULT_SECRET; exits 1 if any cannot be opened."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--batch-size", type=int, default=200, help="Rows locked and rewritten per transaction."
        )

    def handle(self, *args: Any, batch_size: int, **options: Any) -> None:
        unreadable = 0
        for model, field_names in sealed_fields_by_model().items():
            tally = self.rotate_model(model, field_names, batch_size=batch_size)
            self.stdout.write(
                f"{model._meta.label_lower}: {tally.resealed} re-sealed, "
                f"{tally.current} already current, {len(tally.unreadable)} unreadable"
            )
            for pk, field_name in tally.unreadable:
                # The pk and field only: the token itself is never printed.
                self.stderr.write(
                    f"  {model._meta.label_lower} {pk} {field_name}: no known key opens it"
                )
            unreadable += len(tally.unreadable)
        if unreadable:
            raise CommandError(
                f"{unreadable} sealed value(s) could not be opened by any known key (listed above)."
            )

    def rotate_model(
        self, model: type[models.Model], field_names: list[str], *, batch_size: int
    ) -> _Tally:
        tally = _Tally()
        database = router.db_for_write(model)
        # The base manager sees every row, whatever a custom default manager filters out.
        rows = model._base_manager.using(database).only("pk", *field_names).order_by("pk")
        last_pk = None
        while True:
            with transaction.atomic(using=database):
                # Lock the batch: a process refreshing a credential meanwhile waits for us rather
                # than having its new value overwritten by our re-sealed old one.
                batch = rows.select_for_update()
                if last_pk is not None:
                    batch = batch.filter(pk__gt=last_pk)
                instances = list(batch[:batch_size])
                for instance in instances:
                    changed = [
                        name for name in field_names if self.reseal(instance, name, tally=tally)
                    ]
                    if changed:
                        instance.save(update_fields=changed)
            if len(instances) < batch_size:
                return tally
            last_pk = instances[-1].pk

    @sensitive_variables("plaintext")
    def reseal(self, instance: models.Model, field_name: str, *, tally: _Tally) -> bool:
        """Re-seal one value under the current key if it needs it; True when it changed."""
        token = getattr(instance, field_name)
        if not token:
            return False
        context = context_for(instance, field_name)
        # Open even current tokens, so a damaged value is reported rather than counted as fine.
        try:
            plaintext = unseal(token, context=context)
        except VaultError:
            tally.unreadable.append((instance.pk, field_name))
            return False
        if not needs_rotation(token):
            tally.current += 1
            return False
        setattr(instance, field_name, seal(plaintext, context=context))
        tally.resealed += 1
        return True
