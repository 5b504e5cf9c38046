-- The browse API's reads. Tag pages by time (oldest or newest first, ties by name in byte
-- order) read one range of `tags_by_time`, which also gives a repository's last tag move. A
-- repository's manifest count, manifest bytes and last push read `manifests_by_push` alone
-- (an index-only scan), without touching the rows that hold the bodies.

CREATE INDEX tags_by_time ON tags (repo, updated_at, name);
CREATE INDEX manifests_by_push ON manifests (repo, pushed_at) INCLUDE (size);
