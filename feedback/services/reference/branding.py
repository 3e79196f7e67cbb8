"""Whose service this is, on a given day: the site name, the footer, the heading of
reports and letters.

The name follows the map: until 30 June 2025 the service belonged to Thành phố Hà Giang,
from 1 July 2025 (pack ``hagiang-2025``) to the wards and commune that succeeded it. The
reference pack in force on the day asked about decides (its ``[settings]``, kept with the
pack); before any pack, the base file's ``[city]`` settings do. A page shows today's
owner; a report shows the owner at the end of its period; a letter the owner on the day
it is issued."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from . import cache

DEFAULT_CITY = "Thành phố Hà Giang"
DEFAULT_TAGLINE = "Tiếp nhận phản ánh, kiến nghị của người dân"


@dataclass(frozen=True)
class Branding:
    site_name: str  # the header and the page titles
    tagline: str  # under the site name
    authority: str  # the footer; the body a letter speaks for
    issuer: str  # a document heading's second line («ỦY BAN NHÂN DÂN / THÀNH PHỐ HÀ GIANG»)
    place: str  # a document's place line («TP. Hà Giang, ngày ...»)
    province: str


def branding_at(at: datetime) -> Branding:
    """The branding of the pack in force on ``at``'s local day, else the base settings.

    Read from the per-process reference reading (one stamp read, no other query), as
    every page's header and footer ask for it."""
    ref = cache.current()
    city = ref.setting("city_name", DEFAULT_CITY)
    base = Branding(
        site_name=city,
        tagline=DEFAULT_TAGLINE,
        authority=ref.setting("city_authority", "Ủy ban nhân dân thành phố Hà Giang"),
        issuer=city,
        place=re.sub(r"^Thành phố\s+", "TP. ", city),
        province=ref.setting("city_province", "Tỉnh Hà Giang"),
    )
    s = ref.pack_settings(cache.local_day(at))
    if not s:
        return base
    return Branding(
        site_name=s.get("site_name", base.site_name),
        tagline=s.get("tagline", base.tagline),
        authority=s.get("authority", base.authority),
        issuer=s.get("issuer", s.get("site_name", base.issuer)),
        place=s.get("place", base.place),
        province=s.get("province", base.province),
    )
