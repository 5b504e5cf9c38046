-- Referrers index: one row per (repository, subject, referrer) holding the ready descriptor,
-- written in the same transaction as the referrer's manifest. No foreign key to the subject:
-- a referrer may arrive before its subject.

CREATE TABLE referrers (
    repo          TEXT NOT NULL,
    subject       TEXT NOT NULL,
    referrer      TEXT NOT NULL,
    media_type    TEXT NOT NULL,
    size          INTEGER NOT NULL,
    artifact_type TEXT,
    annotations   TEXT,
    PRIMARY KEY (repo, subject, referrer)
) WITHOUT ROWID;
CREATE INDEX referrers_by_type ON referrers (repo, subject, artifact_type, referrer);
CREATE INDEX referrers_by_referrer ON referrers (repo, referrer);

INSERT INTO referrers (repo, subject, referrer, media_type, size, artifact_type, annotations)
SELECT repo, subject, digest, media_type, size, artifact_type, annotations
FROM manifests WHERE subject IS NOT NULL;
