-- The loop fuse counts a link's actions on the link itself (a fixed
-- one-minute window) instead of counting outbox rows on every event.
-- Additive only.

-- +goose Up
ALTER TABLE links ADD COLUMN fuse_window_start timestamptz;
ALTER TABLE links ADD COLUMN fuse_count integer NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE links DROP COLUMN fuse_count;
ALTER TABLE links DROP COLUMN fuse_window_start;
