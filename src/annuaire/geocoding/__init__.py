"""Geocoding with the BAN geocoder (Addok and its CSV plugin): queries, client, cache, strategy."""
