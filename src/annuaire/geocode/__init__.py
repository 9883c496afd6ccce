"""Geocoding with the BAN geocoder (Addok and its CSV plugin), one concept per module.

- `query`: what to ask: the street part of an address without postal or in-building noise, and the
  normalised key under which an address is cached;
- `client`: `BanClient`, the CSV batch client (batches, concurrency, rate limit, retries), which never
  raises for a failed batch: each row comes back with its result or the reason it has none;
- `cache`: `GeocodeCache`, the geocoder's answers kept in a small SQLite file, so that a rebuild sends
  only the addresses never seen;
- `strategy`: `locate`, the two passes (commune INSEE code as filter, then without it), the acceptance
  rules, and the fall-back to the commune's centroid, never labelled with a precision it lacks.
"""
