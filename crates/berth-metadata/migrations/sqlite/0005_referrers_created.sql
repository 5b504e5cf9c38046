-- The artifact's creation time (`io.cncf.oras.artifact.created`, Unix milliseconds) on each
-- referrer row: the ORAS referrers API lists newest first, undated referrers last, ties by
-- digest, and pages through this index.

ALTER TABLE referrers ADD COLUMN created_at INTEGER;

-- Rows written before this column existed take the time from their stored annotations, read
-- as RFC 3339 (SQLite's unixepoch accepts the same forms; anything else stays undated).
UPDATE referrers
SET created_at = CAST(
    unixepoch(json_extract(annotations, '$."io.cncf.oras.artifact.created"'), 'subsec') * 1000
    AS INTEGER)
WHERE annotations IS NOT NULL AND json_valid(annotations)
  AND json_extract(annotations, '$."io.cncf.oras.artifact.created"') IS NOT NULL;

CREATE INDEX referrers_by_created ON referrers (repo, subject, created_at DESC, referrer);
