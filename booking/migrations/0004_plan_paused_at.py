"""The mark of a page closed by the end of Pro moves from ``accounts.PlanPause`` onto the page."""

from django.db import migrations, models


def marks_onto_pages(apps, schema_editor):
    PlanPause = apps.get_model("accounts", "PlanPause")
    BookingPage = apps.get_model("booking", "BookingPage")
    for page_id, paused_at in PlanPause.objects.filter(page__isnull=False).values_list(
        "page_id", "paused_at"
    ):
        BookingPage.objects.filter(pk=page_id).update(plan_paused_at=paused_at)


def marks_back_to_pauses(apps, schema_editor):
    PlanPause = apps.get_model("accounts", "PlanPause")
    BookingPage = apps.get_model("booking", "BookingPage")
    for page in BookingPage.objects.filter(plan_paused_at__isnull=False):
        PlanPause.objects.get_or_create(
            page=page, defaults={"user_id": page.owner_id, "paused_at": page.plan_paused_at}
        )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_user_notify_sync_alerts"),
        ("booking", "0003_booking_attendee_clock"),
    ]

    operations = [
        migrations.AddField(
            model_name="bookingpage",
            name="plan_paused_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(marks_onto_pages, marks_back_to_pauses),
    ]
