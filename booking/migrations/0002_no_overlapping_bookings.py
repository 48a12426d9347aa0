"""Invariant 6: an owner's confirmed bookings never overlap, whatever races the web processes run.

PostgreSQL only (an exclusion constraint over time ranges; btree_gist lets the owner's id share
the index). The embedded SQLite development database goes without and relies on the live
re-check the booking service makes under a lock.
"""

from django.db import migrations

CREATE = """
CREATE EXTENSION IF NOT EXISTS btree_gist;
ALTER TABLE booking_booking ADD CONSTRAINT booking_no_overlap EXCLUDE USING gist (
    owner_id WITH =,
    tstzrange("start", "end", '[)') WITH &&
) WHERE (status = 'confirmed');
"""

DROP = "ALTER TABLE booking_booking DROP CONSTRAINT IF EXISTS booking_no_overlap;"


def _on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("booking", "0001_initial")]

    operations = [migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP), elidable=False)]
