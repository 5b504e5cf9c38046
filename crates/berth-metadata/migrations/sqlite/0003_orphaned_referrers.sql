-- When a referrer's subject was last deleted: a collection that keeps orphaned referrers for a
-- delay counts it from here while the subject is absent. NULL for a referrer whose subject was
-- never deleted (when that subject is absent, the referrer's push time counts instead).

ALTER TABLE referrers ADD COLUMN orphaned_at INTEGER;

-- Referrers orphaned before this column existed start their delay now.
UPDATE referrers SET orphaned_at = CAST(strftime('%s', 'now') AS INTEGER) * 1000
WHERE NOT EXISTS (
    SELECT 1 FROM manifests m WHERE m.repo = referrers.repo AND m.digest = referrers.subject
);
