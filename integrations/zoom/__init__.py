"""Zoom: the meeting provider booking pages create meetings with (a connection without calendars).

``oauth`` connects an account (user-level OAuth with PKCE), ``tokens`` keeps its rotating tokens
fresh, ``client`` creates, moves and deletes meetings.
"""
