"""Time-zone estimation for journeys (PINPOINT.md §4.5 LocalTime, `TimezoneEstimationMethods`).

An endpoint without a valid `Demographic.Timezone` may get one estimated, trying the journey's
methods in order; the first that gives a zone wins. Pure: reads only data shipped in wheels.

- `PHONE_NUMBER` (SMS and VOICE endpoints): the `Address` read by libphonenumber (the
  `phonenumbers` package), `Location.Country` being the region of a number written without `+`.
  A number whose range maps to one zone gets it. One that maps to several (a UK mobile maps to
  London, Guernsey, Jersey and Man; a US toll-free number to every NANP zone) gets the zone of its
  country (`Location.Country`, else the number's own) when that country has a single zone and the
  range lists it, else none.
- `POSTAL_CODE`: `Location.PostalCode` with `Location.Country` (ISO 3166-1 alpha-2, or alpha-3):
  - a country with a single zone in the tz database gets it whatever the code (the `zone.tab` of
    the `tzdata` wheel, which names each country's own zone: Europe/Vatican for VA, not Rome);
  - the multi-zone countries Pinpoint documents postal-code estimation for are read by code
    prefix (tables below): the US at state granularity by 3-digit ZIP prefix, each state getting
    its majority zone (the zone.tab zone of its "most areas"), except the few prefixes known to
    lie wholly or mostly across a state's zone line (El Paso, the Florida panhandle, Gary and
    Evansville, east Tennessee, north Idaho, Rapid City); Canada by the first letter (the
    province; Nunavut by region); Australia by the first digit (the state) with its island and
    Broken Hill codes; Spain (Canary Islands, Ceuta, Melilla), New Zealand (Chatham Islands) and
    Germany (Büsingen) by their exceptions;
  - other multi-zone countries, and codes a table does not cover (military ZIPs), give none.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

import phonenumbers
from phonenumbers import timezone as number_zones

from rules.schedules import iana_zone

PHONE_CHANNELS = frozenset({"SMS", "VOICE"})

# ISO 3166-1 alpha-3 → alpha-2 (each entry: the alpha-3 then the alpha-2); tests check it against
# tzdata's iso3166.tab.
_ALPHA3 = """
ABWAW AFGAF AGOAO AIAAI ALAAX ALBAL ANDAD AREAE ARGAR ARMAM ASMAS ATAAQ ATFTF ATGAG AUSAU AUTAT
AZEAZ BDIBI BELBE BENBJ BESBQ BFABF BGDBD BGRBG BHRBH BHSBS BIHBA BLMBL BLRBY BLZBZ BMUBM BOLBO
BRABR BRBBB BRNBN BTNBT BVTBV BWABW CAFCF CANCA CCKCC CHECH CHLCL CHNCN CIVCI CMRCM CODCD COGCG
COKCK COLCO COMKM CPVCV CRICR CUBCU CUWCW CXRCX CYMKY CYPCY CZECZ DEUDE DJIDJ DMADM DNKDK DOMDO
DZADZ ECUEC EGYEG ERIER ESHEH ESPES ESTEE ETHET FINFI FJIFJ FLKFK FRAFR FROFO FSMFM GABGA GBRGB
GEOGE GGYGG GHAGH GIBGI GINGN GLPGP GMBGM GNBGW GNQGQ GRCGR GRDGD GRLGL GTMGT GUFGF GUMGU GUYGY
HKGHK HMDHM HNDHN HRVHR HTIHT HUNHU IDNID IMNIM INDIN IOTIO IRLIE IRNIR IRQIQ ISLIS ISRIL ITAIT
JAMJM JEYJE JORJO JPNJP KAZKZ KENKE KGZKG KHMKH KIRKI KNAKN KORKR KWTKW LAOLA LBNLB LBRLR LBYLY
LCALC LIELI LKALK LSOLS LTULT LUXLU LVALV MACMO MAFMF MARMA MCOMC MDAMD MDGMG MDVMV MEXMX MHLMH
MKDMK MLIML MLTMT MMRMM MNEME MNGMN MNPMP MOZMZ MRTMR MSRMS MTQMQ MUSMU MWIMW MYSMY MYTYT NAMNA
NCLNC NERNE NFKNF NGANG NICNI NIUNU NLDNL NORNO NPLNP NRUNR NZLNZ OMNOM PAKPK PANPA PCNPN PERPE
PHLPH PLWPW PNGPG POLPL PRIPR PRKKP PRTPT PRYPY PSEPS PYFPF QATQA REURE ROURO RUSRU RWARW SAUSA
SDNSD SENSN SGPSG SGSGS SHNSH SJMSJ SLBSB SLESL SLVSV SMRSM SOMSO SPMPM SRBRS SSDSS STPST SURSR
SVKSK SVNSI SWESE SWZSZ SXMSX SYCSC SYRSY TCATC TCDTD TGOTG THATH TJKTJ TKLTK TKMTM TLSTL TONTO
TTOTT TUNTN TURTR TUVTV TWNTW TZATZ UGAUG UKRUA UMIUM URYUY USAUS UZBUZ VATVA VCTVC VENVE VGBVG
VIRVI VNMVN VUTVU WLFWF WSMWS YEMYE ZAFZA ZMBZM ZWEZW
"""
ALPHA3_TO_ALPHA2 = {entry[:3]: entry[3:] for entry in _ALPHA3.split()}

# Postal tables: `LOW[-HIGH] ZONE  # where`. A row matches a code whose first len(LOW) characters
# lie in LOW..HIGH; the first matching row wins, so exceptions precede the rule they break.
_US = """
005 America/New_York  # NY (Holtsville)
006-007 America/Puerto_Rico  # PR
008 America/St_Thomas  # VI
009 America/Puerto_Rico  # PR
010-089 America/New_York  # MA RI NH ME VT CT NJ
100-199 America/New_York  # NY PA DE
200-268 America/New_York  # DC MD VA WV
270-319 America/New_York  # NC SC GA
320-323 America/New_York  # FL
324-325 America/Chicago  # FL panhandle (Panama City, Pensacola)
326-339 America/New_York  # FL
341-349 America/New_York  # FL
350-372 America/Chicago  # AL, TN (Nashville)
373-374 America/New_York  # TN (Chattanooga)
375 America/Chicago  # TN (Memphis)
376-379 America/New_York  # TN (Knoxville, Johnson City)
380-397 America/Chicago  # TN, MS
398-399 America/New_York  # GA
400-459 America/New_York  # KY OH
460-462 America/Indiana/Indianapolis  # IN
463-464 America/Chicago  # IN (Gary)
465-475 America/Indiana/Indianapolis  # IN
476-477 America/Chicago  # IN (Evansville)
478-479 America/Indiana/Indianapolis  # IN
480-499 America/Detroit  # MI
500-567 America/Chicago  # IA WI MN
569 America/New_York  # DC
570-576 America/Chicago  # SD
577 America/Denver  # SD (Rapid City)
580-588 America/Chicago  # ND
590-599 America/Denver  # MT
600-797 America/Chicago  # IL MO KS NE LA AR OK TX
798-799 America/Denver  # TX (El Paso)
800-831 America/Denver  # CO WY
832-834 America/Boise  # ID
835 America/Los_Angeles  # ID (Lewiston)
836-837 America/Boise  # ID
838 America/Los_Angeles  # ID (Coeur d'Alene)
840-847 America/Denver  # UT
850-865 America/Phoenix  # AZ
870-885 America/Denver  # NM, TX (El Paso)
889-961 America/Los_Angeles  # NV CA
96799 Pacific/Pago_Pago  # AS
967-968 Pacific/Honolulu  # HI
969 Pacific/Guam  # GU MP
970-994 America/Los_Angeles  # OR WA
995-999 America/Anchorage  # AK
"""
_CA = """
A America/St_Johns  # NL
B-C America/Halifax  # NS PE
E America/Moncton  # NB
G-P America/Toronto  # QC ON
R America/Winnipeg  # MB
S America/Regina  # SK
T America/Edmonton  # AB
V America/Vancouver  # BC
X0A America/Iqaluit  # NU (Qikiqtaaluk)
X0B America/Cambridge_Bay  # NU (Kitikmeot)
X0C America/Rankin_Inlet  # NU (Kivalliq)
X America/Edmonton  # NT
Y America/Whitehorse  # YT
"""
_AU = """
02 Australia/Sydney  # ACT
08-09 Australia/Darwin  # NT
2880 Australia/Broken_Hill  # NSW (Broken Hill)
2898 Australia/Lord_Howe  # Lord Howe Island
2899 Pacific/Norfolk  # Norfolk Island
1-2 Australia/Sydney  # NSW ACT
3 Australia/Melbourne  # VIC
4 Australia/Brisbane  # QLD
5 Australia/Adelaide  # SA
6798 Indian/Christmas  # Christmas Island
6799 Indian/Cocos  # Cocos (Keeling) Islands
6 Australia/Perth  # WA
7 Australia/Hobart  # TAS
8 Australia/Melbourne  # VIC
9 Australia/Brisbane  # QLD
"""
_ES = """
35 Atlantic/Canary  # Las Palmas
38 Atlantic/Canary  # Santa Cruz de Tenerife
51-52 Africa/Ceuta  # Ceuta, Melilla
01-50 Europe/Madrid
"""
_NZ = """
8942 Pacific/Chatham  # Chatham Islands
0-9 Pacific/Auckland
"""
_DE = """
78266 Europe/Busingen  # Büsingen am Hochrhein
0-9 Europe/Berlin
"""


@dataclass(frozen=True)
class _PostalPlan:
    """How a multi-zone country's postal codes map to zones: `shape` is a normalised code (upper
    case, no spaces or hyphens) the country issues; `rows` are (low, high, zone)."""

    shape: re.Pattern[str]
    rows: tuple[tuple[str, str, str], ...]

    def zone(self, code: str) -> str | None:
        if not self.shape.fullmatch(code):
            return None
        return next((zone for low, high, zone in self.rows if low <= code[: len(low)] <= high), None)


def _plan(shape: str, table: str) -> _PostalPlan:
    rows = []
    for line in table.splitlines():
        fields = line.split("#")[0].split()
        if fields:
            low, _, high = fields[0].partition("-")
            rows.append((low, high or low, fields[1]))
    return _PostalPlan(re.compile(shape), tuple(rows))


_POSTAL_PLANS = {
    "US": _plan(r"\d{5}(?:\d{4})?", _US),
    "CA": _plan(r"[A-Z]\d[A-Z]\d[A-Z]\d", _CA),
    "AU": _plan(r"\d{4}", _AU),
    "ES": _plan(r"\d{5}", _ES),
    "NZ": _plan(r"\d{4}", _NZ),
    "DE": _plan(r"\d{5}", _DE),
}


@cache
def country_zones() -> dict[str, tuple[str, ...]]:
    """Each ISO 3166-1 alpha-2 country's tz database zones, from tzdata's zone.tab."""
    zones: dict[str, list[str]] = {}
    for line in files("tzdata.zoneinfo").joinpath("zone.tab").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            country, _, zone = line.split("\t")[:3]
            zones.setdefault(country, []).append(zone)
    return {country: tuple(names) for country, names in zones.items()}


def _single_zone(country: str | None) -> str | None:
    zones = country_zones().get(country or "", ())
    return zones[0] if len(zones) == 1 else None


def _alpha2(country: object) -> str | None:
    """An ISO 3166-1 alpha-2 or alpha-3 code as alpha-2 (upper case), or None."""
    if not isinstance(country, str):
        return None
    code = country.strip().upper()
    if len(code) == 3:
        return ALPHA3_TO_ALPHA2.get(code)
    return code if len(code) == 2 else None


def _by_phone(endpoint: dict[str, Any], country: str | None) -> str | None:
    address = endpoint.get("Address")
    if endpoint.get("ChannelType") not in PHONE_CHANNELS or not isinstance(address, str):
        return None
    try:
        number = phonenumbers.parse(address, country)
    except phonenumbers.NumberParseException:
        return None
    zones = [z for z in number_zones.time_zones_for_number(number) if iana_zone(z) is not None]
    if len(zones) == 1:
        return zones[0]
    home = _single_zone(country or phonenumbers.region_code_for_number(number))
    return home if home in zones else None


def _by_postal_code(postal_code: object, country: str | None) -> str | None:
    if not isinstance(postal_code, str) or not postal_code.strip() or country is None:
        return None
    plan = _POSTAL_PLANS.get(country)
    if plan is None:
        return _single_zone(country)
    return plan.zone(re.sub(r"[\s-]", "", postal_code.upper()))


def estimate_timezone(endpoint: dict[str, Any], methods: Sequence[str]) -> str | None:
    """The endpoint's IANA time zone: its valid `Demographic.Timezone`, else the first estimate
    of `methods` (PHONE_NUMBER, POSTAL_CODE, tried in order) that finds one, else None."""
    own = (endpoint.get("Demographic") or {}).get("Timezone")
    if iana_zone(own) is not None:
        return str(own)
    location = endpoint.get("Location") or {}
    country = _alpha2(location.get("Country"))
    for method in methods:
        if method == "PHONE_NUMBER":
            zone = _by_phone(endpoint, country)
        elif method == "POSTAL_CODE":
            zone = _by_postal_code(location.get("PostalCode"), country)
        else:
            zone = None
        if zone is not None:
            return zone
    return None
