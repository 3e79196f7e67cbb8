"""HTTP adapters for machines: the JSON API v1 (routes, input, output, docs page) and Open311
GeoReport v2. They parse, call services and shape answers; no rules live here."""
