-- Created after the bulk load: cheaper than maintaining them row by row.
CREATE INDEX organismes_departement ON organismes(code_departement);
CREATE INDEX organismes_region ON organismes(code_region);
CREATE INDEX organismes_commune ON organismes(code_commune_insee);
CREATE INDEX organismes_code_postal ON organismes(code_postal);
CREATE INDEX organismes_siret ON organismes(siret);
CREATE INDEX organismes_siren ON organismes(siren);
CREATE INDEX declarations_organisme ON declarations(organisme_id);
CREATE INDEX declarations_siret ON declarations(siret);
CREATE INDEX declarations_siren ON declarations(siren);
CREATE INDEX ndas_precedents_nda ON ndas_precedents(nda);
CREATE INDEX certifications_portee ON certifications(portee, organisme_id);
CREATE INDEX declaration_specialites_code ON declaration_specialites(code);
-- An update regroups the declarations sharing a comparison name with those that changed.
CREATE INDEX empreintes_nom ON empreintes(nom_comparaison);
