"""Code lists the project itself defines and uses in more than one place.

IATI's own codelists (with their names) are in ``config/iati_codelists.yaml`` (see
:mod:`schemas.iati_codelists`); what is here are the project's choices on top of them.
"""

import pycountry

# IATI OrganisationType codes counted as private money: foundations (60), private sector (70),
# private sector in provider country (71), in aid recipient country (72), in third country (73).
PRIVATE_ORGANISATION_TYPES = ("60", "70", "71", "72", "73")

# IATI activity standard versions the reader accepts; 1.0x is quarantined.
SUPPORTED_IATI_VERSIONS = ("2.01", "2.02", "2.03")

# Where a value_usd rate comes from.
FX_SOURCE_IDENTITY = "identity"
FX_SOURCE_ECB = "ECB reference rate"
FX_SOURCE_IMF = "IMF annual end-of-period"
FX_SOURCES = (FX_SOURCE_IDENTITY, FX_SOURCE_ECB, FX_SOURCE_IMF)

# Screening outcome, from least to most severe.
RISK_LEVELS = ("clear", "review", "high")

# ISO 3166-1 alpha-2 to alpha-3. IATI and the sanctions list use the user-assigned XK for Kosovo,
# which ISO 3166 (and so pycountry) does not list.
ALPHA2_TO_ALPHA3 = {c.alpha_2: c.alpha_3 for c in pycountry.countries} | {"XK": "XKX"}
