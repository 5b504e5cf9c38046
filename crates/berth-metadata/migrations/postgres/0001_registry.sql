-- Registry metadata for PostgreSQL: the final state of the SQLite migrations in one step
-- (repositories, blobs and their links, manifests with their edges, reference counts, tags,
-- referrers, upload sessions). Edges are written in the same transaction as their manifest.
--
-- Every name and digest column sorts in byte order (COLLATE "C") whatever the database's
-- locale, so that paging and listings match the SQLite backend and the spec's lexical order.
-- Sizes and Unix-millisecond times are BIGINT; manifest bodies are BYTEA, byte-exact.

CREATE TABLE repositories (
    name       TEXT COLLATE "C" PRIMARY KEY,
    created_at BIGINT NOT NULL
);

CREATE TABLE blobs (
    digest     TEXT COLLATE "C" PRIMARY KEY,
    size       BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE repository_blobs (
    repo      TEXT COLLATE "C" NOT NULL,
    digest    TEXT COLLATE "C" NOT NULL,
    linked_at BIGINT NOT NULL,
    PRIMARY KEY (repo, digest)
);
CREATE INDEX repository_blobs_by_digest ON repository_blobs (digest, repo);

CREATE TABLE manifests (
    repo          TEXT COLLATE "C" NOT NULL,
    digest        TEXT COLLATE "C" NOT NULL,
    media_type    TEXT NOT NULL,
    size          BIGINT NOT NULL,
    body          BYTEA NOT NULL,
    artifact_type TEXT,
    subject       TEXT COLLATE "C",
    annotations   TEXT,
    pushed_at     BIGINT NOT NULL,
    PRIMARY KEY (repo, digest)
);
CREATE INDEX manifests_by_subject ON manifests (repo, subject) WHERE subject IS NOT NULL;

CREATE TABLE manifest_blobs (
    repo     TEXT COLLATE "C" NOT NULL,
    manifest TEXT COLLATE "C" NOT NULL,
    blob     TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (repo, manifest, blob)
);

-- How many manifests of a repository reference each blob; a row exists only while its count
-- is positive (see the SQLite migration 0004 for why a count replaces a by-blob index).
CREATE TABLE blob_references (
    repo      TEXT COLLATE "C" NOT NULL,
    blob      TEXT COLLATE "C" NOT NULL,
    manifests BIGINT NOT NULL,
    PRIMARY KEY (repo, blob)
);

CREATE TABLE manifest_children (
    repo   TEXT COLLATE "C" NOT NULL,
    parent TEXT COLLATE "C" NOT NULL,
    child  TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (repo, parent, child)
);
CREATE INDEX manifest_children_by_child ON manifest_children (repo, child);

CREATE TABLE tags (
    repo       TEXT COLLATE "C" NOT NULL,
    name       TEXT COLLATE "C" NOT NULL,
    digest     TEXT COLLATE "C" NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (repo, name)
);
CREATE INDEX tags_by_digest ON tags (repo, digest);
-- Tag listings: case-insensitive (ASCII, as tags are), ties by bytes, paged by keyset.
CREATE INDEX tags_lexical ON tags (repo, (lower(name) COLLATE "C"), name COLLATE "C");

CREATE TABLE uploads (
    id         TEXT COLLATE "C" PRIMARY KEY,
    repo       TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX uploads_by_age ON uploads (created_at);

-- Referrers index: one row per (repository, subject, referrer) holding the ready descriptor,
-- written in the same transaction as the referrer's manifest. No foreign key to the subject:
-- a referrer may arrive before its subject. `orphaned_at`: when its subject was last deleted.
-- `created_at`: the artifact's `io.cncf.oras.artifact.created` time, for the ORAS order.
CREATE TABLE referrers (
    repo          TEXT COLLATE "C" NOT NULL,
    subject       TEXT COLLATE "C" NOT NULL,
    referrer      TEXT COLLATE "C" NOT NULL,
    media_type    TEXT NOT NULL,
    size          BIGINT NOT NULL,
    artifact_type TEXT,
    annotations   TEXT,
    orphaned_at   BIGINT,
    created_at    BIGINT,
    PRIMARY KEY (repo, subject, referrer)
);
CREATE INDEX referrers_by_type ON referrers (repo, subject, artifact_type, referrer);
CREATE INDEX referrers_by_referrer ON referrers (repo, referrer);
-- Newest first, undated (NULL) rows grouped together, pages by keyset on (created_at, referrer).
CREATE INDEX referrers_by_created ON referrers (repo, subject, created_at DESC, referrer);
