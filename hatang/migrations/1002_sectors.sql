-- Sectors as data (docs/readiness.md, "Sectors"). Until now the five sectors of Kế hoạch
-- 333/KH-UBND, II.2 ("giao thông, năng lượng, điện, nước, đô thị") were a CHECK of the `sector`
-- domain (0001); a later plan — this one already names "y tế, giáo dục" (health, education) in its
-- step-by-step IoT clause — adds a sector with a row here, not a code change or a migration.
CREATE TABLE sectors (
    code        text PRIMARY KEY CHECK (code ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    name_en     text NOT NULL DEFAULT '',
    position    smallint NOT NULL DEFAULT 100,
    source      text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO sectors (code, name, name_en, position, source) VALUES
    ('transport', 'Giao thông', 'Transport', 1, 'Kế hoạch 333/KH-UBND (Bắc Ninh, 13/10/2023), mục II.2'),
    ('energy', 'Năng lượng', 'Energy', 2, 'Kế hoạch 333/KH-UBND (Bắc Ninh, 13/10/2023), mục II.2'),
    ('electricity', 'Điện', 'Electricity', 3, 'Kế hoạch 333/KH-UBND (Bắc Ninh, 13/10/2023), mục II.2'),
    ('water', 'Nước', 'Water', 4, 'Kế hoạch 333/KH-UBND (Bắc Ninh, 13/10/2023), mục II.2'),
    ('urban', 'Đô thị', 'Urban', 5, 'Kế hoạch 333/KH-UBND (Bắc Ninh, 13/10/2023), mục II.2');

-- The domain keeps its name (every column typed `sector` stays as it is); the list moves to the table.
ALTER DOMAIN sector DROP CONSTRAINT sector_check;
ALTER DOMAIN sector ADD CONSTRAINT sector_code CHECK (VALUE ~ '^[a-z0-9][a-z0-9-]{0,62}$');
ALTER TABLE assets ADD CONSTRAINT assets_sector_fk FOREIGN KEY (sector) REFERENCES sectors (code);
ALTER TABLE metrics ADD CONSTRAINT metrics_sector_fk FOREIGN KEY (sector) REFERENCES sectors (code);
ALTER TABLE device_models ADD CONSTRAINT device_models_sector_fk FOREIGN KEY (sector) REFERENCES sectors (code);
ALTER TABLE readiness_targets ADD CONSTRAINT readiness_targets_sector_fk
    FOREIGN KEY (sector) REFERENCES sectors (code);
ALTER TABLE readiness_snapshots ADD CONSTRAINT readiness_snapshots_sector_fk
    FOREIGN KEY (sector) REFERENCES sectors (code);
