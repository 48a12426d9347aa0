"""Finding video-meeting links: Google Meet, Zoom, Microsoft Teams and Webex."""

from __future__ import annotations

import re

VIDEO_LINK = re.compile(
    r"https?://(?:"
    r"meet\.google\.com/[\w-]+"
    r"|(?:[\w-]+\.)?zoom\.us/(?:j|my|w|s)/[\w?=&./-]+"
    r"|teams\.microsoft\.com/l/meetup-join/\S+"
    r"|teams\.live\.com/meet/\S+"
    r"|(?:[\w-]+\.)?webex\.com/(?:meet|join|[\w.-]+/j\.php)\S*"
    r")",
    re.IGNORECASE,
)


def find_video_link(*texts: str) -> str:
    """The first video-meeting link in ``texts``, in order, or ""."""
    for text in texts:
        if match := VIDEO_LINK.search(text or ""):
            return match.group(0).rstrip(".,;)>\"'")
    return ""
