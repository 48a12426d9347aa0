"""The mark of a rule paused by the end of Pro moves from ``accounts.PlanPause`` onto the rule."""

from django.db import migrations, models


def marks_onto_rules(apps, schema_editor):
    PlanPause = apps.get_model("accounts", "PlanPause")
    SyncRule = apps.get_model("syncrules", "SyncRule")
    for rule_id, paused_at in PlanPause.objects.filter(rule__isnull=False).values_list(
        "rule_id", "paused_at"
    ):
        SyncRule.objects.filter(pk=rule_id).update(plan_paused_at=paused_at)


def marks_back_to_pauses(apps, schema_editor):
    PlanPause = apps.get_model("accounts", "PlanPause")
    SyncRule = apps.get_model("syncrules", "SyncRule")
    for rule in SyncRule.objects.filter(plan_paused_at__isnull=False):
        PlanPause.objects.get_or_create(
            rule=rule, defaults={"user_id": rule.user_id, "paused_at": rule.plan_paused_at}
        )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_user_notify_sync_alerts"),
        ("syncrules", "0002_sync_state_and_one_block_per_target"),
    ]

    operations = [
        migrations.AddField(
            model_name="syncrule",
            name="plan_paused_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(marks_onto_rules, marks_back_to_pauses),
    ]
