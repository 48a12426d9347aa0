"""Every OAuth scope Multical asks a provider for, and why: the one place they are declared.

The OAuth flows send exactly these lists, and the public permissions page is rendered from them,
so what an administrator reviews is what the consent screen asks for. Adding a scope means adding
it here with its reason, and a reason must say what the code does with it. Zoom is the exception
to "send": it takes the scopes from the app's Marketplace configuration, so its flow checks that the
granted ones are exactly ``ZOOM_CONNECTION``, and operators must configure exactly those.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scope:
    name: str
    reason: str


# Google -------------------------------------------------------------------------------------------

GOOGLE_CALENDAR_CONNECTION = (
    Scope(
        "https://www.googleapis.com/auth/calendar.events",
        "Read the events of your calendars to sync them, and write, update and delete the busy "
        "blocks your sync rules create; create, change, move and delete the events you act on "
        "in the portfolio, and send your answers to invitations there, only when you ask. Never "
        "your calendars' settings or sharing.",
    ),
    Scope(
        "https://www.googleapis.com/auth/calendar.calendarlist.readonly",
        "List the calendars in your account, with their names, colours and whether you may write "
        "to them, so you can choose which ones to sync (calendar.events alone does not allow it).",
    ),
    Scope(
        "https://www.googleapis.com/auth/userinfo.email",
        "Learn the account's e-mail address, so the connection is named after it and reconnecting "
        "the same account updates it instead of adding a second one.",
    ),
    Scope("openid", "Receive a signed statement of which Google account was connected."),
)

GOOGLE_SIGN_IN = (
    Scope("openid", "Confirm which Google account you signed in with."),
    Scope(
        "email",
        "Your e-mail address, and Google's word that it is verified, to find or create your "
        "Multical account.",
    ),
)

# Microsoft ----------------------------------------------------------------------------------------

MICROSOFT_CALENDAR_CONNECTION = (
    Scope(
        "Calendars.ReadWrite",
        "Read the events of your calendars to sync them, and write, update and delete the busy "
        "blocks your sync rules create; create, change, move and delete the events you act on "
        "in the portfolio, and answer invitations there, only when you ask.",
    ),
    Scope(
        "User.Read",
        "Read the account's e-mail address from its profile (its mailbox address, or the name it "
        "signs in with when it has no mailbox), so the connection is named after it and "
        "reconnecting the same account updates it. Nothing else from the profile is read.",
    ),
    Scope(
        "offline_access",
        "Keep syncing while you are away: a refresh token, sealed in our vault.",
    ),
    Scope(
        "openid",
        "A signed statement of which Microsoft account was connected, which Microsoft's library "
        "checks and keeps the account's tokens under.",
    ),
    Scope(
        "profile",
        "Microsoft's sign-in library (MSAL) adds it to every request; it puts your name in that "
        "statement, and Multical never reads it.",
    ),
)

MICROSOFT_SIGN_IN = (
    Scope("openid", "Confirm which Microsoft account you signed in with."),
    Scope(
        "email",
        "Your e-mail address, and whether Microsoft vouches that its domain is verified, to find "
        "or create your Multical account.",
    ),
    Scope(
        "profile",
        "Microsoft's sign-in library (MSAL) adds it to every request; it puts your name in the "
        "statement of who signed in, and Multical never reads it.",
    ),
    Scope(
        "offline_access",
        "Added by Microsoft's sign-in library to every request. Signing in keeps no token: the "
        "tokens Microsoft returns are dropped once we know who you are.",
    ),
)

# Scopes msal adds to every request by itself and refuses to be given.
MSAL_RESERVED = frozenset({"openid", "profile", "offline_access"})

# Zoom ---------------------------------------------------------------------------------------------
# Zoom takes the scopes from the app's Marketplace configuration, not from the authorize request;
# the token answer lists what was granted, and the flow checks it is exactly this list. One scope
# per call the code makes (integrations.zoom.client).

ZOOM_CONNECTION = (
    Scope(
        "meeting:write:meeting",
        "Create a Zoom meeting for each booking made on your booking pages (its answer carries "
        "the link attendees join by).",
    ),
    Scope(
        "meeting:update:meeting",
        "Move or retitle that meeting when its booking is rescheduled.",
    ),
    Scope(
        "meeting:delete:meeting",
        "Delete that meeting when its booking is cancelled. Never your other meetings.",
    ),
    Scope(
        "user:read:user",
        "Learn which Zoom user connected (their e-mail address, to name the connection, and "
        "Zoom's id for them, so the connection is forgotten when they remove the app at Zoom).",
    ),
)

# Zoom scopes the product's documentation has listed that the code does not use, and why they are
# not asked for (the permissions page and the README say so).
ZOOM_NOT_REQUESTED = (
    Scope(
        "meeting:write:invite_links",
        "It creates personal invite links for a meeting's registrants; attendees join by the "
        "link Zoom returns when the meeting is created, so no invite links are made.",
    ),
    Scope(
        "user:read:email",
        "It reads a user's e-mail address by itself; the connected user's address already comes "
        "with user:read:user.",
    ),
    Scope(
        "meeting:read:invitation",
        "It reads a meeting's invitation text; the join link comes from the create answer, so it "
        "was never needed (earlier versions asked for it).",
    ),
)

PROVIDER_SCOPES = {
    "google": {"calendar": GOOGLE_CALENDAR_CONNECTION, "sign_in": GOOGLE_SIGN_IN},
    "microsoft": {"calendar": MICROSOFT_CALENDAR_CONNECTION, "sign_in": MICROSOFT_SIGN_IN},
    "zoom": {"meetings": ZOOM_CONNECTION},
}


def names(scopes: tuple[Scope, ...]) -> list[str]:
    return [scope.name for scope in scopes]


def msal_names(scopes: tuple[Scope, ...]) -> list[str]:
    """The scopes to hand msal: the declared ones without those it adds itself."""
    return [scope.name for scope in scopes if scope.name not in MSAL_RESERVED]
