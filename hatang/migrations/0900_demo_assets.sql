-- Demo data, labelled: assets loaded by `hatang seed` (the Bắc Ninh demo) and those the simulated
-- fleets create are flagged `demo`, so readiness figures, the API and the dashboard can say which
-- figures are demonstration and leave them out (issue 18; docs/readiness.md, "Demo data").
ALTER TABLE assets ADD COLUMN demo boolean NOT NULL DEFAULT false;
-- Assets of simulated fleets made before the flag say so in their metadata; the Bắc Ninh demo's are
-- flagged by the next `hatang seed` (it knows their ids).
UPDATE assets SET demo = true WHERE metadata->>'simulated' = 'true';

-- Snapshots keep the figures without demo assets beside the figures with them. NULL on rows taken
-- before this migration: unknown, and a series without demo data skips those days.
ALTER TABLE readiness_snapshots
    ADD COLUMN real_essential integer CHECK (real_essential >= 0),
    ADD COLUMN real_equipped integer CHECK (real_equipped BETWEEN 0 AND real_essential),
    ADD COLUMN real_ready integer CHECK (real_ready BETWEEN 0 AND real_equipped);
