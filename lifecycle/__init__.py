"""An account's life as a whole: its data exported, its deletion (closing it at once, then
removing what it holds at the providers and here). Above every app, it drives their services and
reads their tables; nothing below imports it."""
