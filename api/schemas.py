"""What every answer's schema is built on."""

from __future__ import annotations

from pydantic import BaseModel


class Out(BaseModel):
    """An answer's schema: a plain pydantic model.

    django-ninja's ``Schema`` reads its input through a getter that also takes ORM objects and
    callables, which costs some microseconds per field: a page of 100 bookings spent more time
    there than in the database. Answers are built field by field from values already read, so
    they need none of it; requests keep ``Schema``.
    """
