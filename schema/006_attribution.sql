-- 006_attribution.sql — the credit line a source asks users of an image to
-- give (iNaturalist's photo "attribution", e.g. "(c) Fran Field, some rights
-- reserved (CC BY)"), kept verbatim beside the author's name.
ALTER TABLE url_tags ADD COLUMN attribution TEXT;
