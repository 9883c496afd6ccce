"""Where the data comes from and how good it is.

- `formats`: French formats of a value (SIRET, SIREN, postal code, INSEE code, département, région,
  date, boolean, latitude/longitude…), pure functions;
- `profile`: a source file's profile (columns, types, formats, shares, examples, volume), streaming;
- `licences`: licence names normalised (`Licence Ouverte` → `lo-2.0`);
- `metadata`: a data.gouv.fr dataset description: recommended fields, freshness;
- `score`: the trust score of a source (officialness, availability, metadata, licence, agent readiness);
- `sources`: the sources we read, profiled and scored together (`annuaire profile`);
- `quality`: the quality report of our own published data.
"""
