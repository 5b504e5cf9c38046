-- Registry metadata: repositories, blobs and their links, manifests with their edges, tags,
-- upload sessions. Edges are written in the same transaction as their manifest.

CREATE TABLE repositories (
    name       TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE blobs (
    digest     TEXT PRIMARY KEY,
    size       INTEGER NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE repository_blobs (
    repo      TEXT NOT NULL,
    digest    TEXT NOT NULL,
    linked_at INTEGER NOT NULL,
    PRIMARY KEY (repo, digest)
) WITHOUT ROWID;
CREATE INDEX repository_blobs_by_digest ON repository_blobs (digest, repo);

CREATE TABLE manifests (
    repo          TEXT NOT NULL,
    digest        TEXT NOT NULL,
    media_type    TEXT NOT NULL,
    size          INTEGER NOT NULL,
    body          BLOB NOT NULL,
    artifact_type TEXT,
    subject       TEXT,
    annotations   TEXT,
    pushed_at     INTEGER NOT NULL,
    PRIMARY KEY (repo, digest)
);
CREATE INDEX manifests_by_subject ON manifests (repo, subject) WHERE subject IS NOT NULL;

CREATE TABLE manifest_blobs (
    repo     TEXT NOT NULL,
    manifest TEXT NOT NULL,
    blob     TEXT NOT NULL,
    PRIMARY KEY (repo, manifest, blob)
) WITHOUT ROWID;
CREATE INDEX manifest_blobs_by_blob ON manifest_blobs (blob);

CREATE TABLE manifest_children (
    repo   TEXT NOT NULL,
    parent TEXT NOT NULL,
    child  TEXT NOT NULL,
    PRIMARY KEY (repo, parent, child)
) WITHOUT ROWID;
CREATE INDEX manifest_children_by_child ON manifest_children (repo, child);

CREATE TABLE tags (
    repo       TEXT NOT NULL,
    name       TEXT NOT NULL,
    digest     TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (repo, name)
) WITHOUT ROWID;
CREATE INDEX tags_by_digest ON tags (repo, digest);
CREATE INDEX tags_lexical ON tags (repo, name COLLATE NOCASE, name);

CREATE TABLE uploads (
    id         TEXT PRIMARY KEY,
    repo       TEXT NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX uploads_by_age ON uploads (created_at);
