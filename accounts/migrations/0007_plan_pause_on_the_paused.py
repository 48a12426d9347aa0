"""``PlanPause`` goes: its marks now live on the rules and pages (syncrules 0003, booking 0004)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_user_notify_sync_alerts"),
        ("syncrules", "0003_plan_paused_at"),
        ("booking", "0004_plan_paused_at"),
    ]

    operations = [
        migrations.DeleteModel(name="PlanPause"),
    ]
