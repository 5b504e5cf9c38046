-- How many manifests of a repository reference each blob. Collections ask only whether a blob
-- is referenced; a count over the few blobs a repository holds replaces an index entry per
-- (manifest, blob) pair, so deleting a manifest rewrites a handful of pages instead of one
-- page per layer scattered over the whole index. A row exists only while its count is positive.

CREATE TABLE blob_references (
    repo      TEXT NOT NULL,
    blob      TEXT NOT NULL,
    manifests INTEGER NOT NULL,
    PRIMARY KEY (repo, blob)
) WITHOUT ROWID;

INSERT INTO blob_references (repo, blob, manifests)
SELECT repo, blob, COUNT(*) FROM manifest_blobs GROUP BY repo, blob;

DROP INDEX manifest_blobs_by_blob;
