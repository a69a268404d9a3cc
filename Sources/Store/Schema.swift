import GRDB

/// The database schema, as GRDB migrations. A migration never changes once shipped: a new
/// schema version is a new migration appended here. Migrations use plain SQL and never the
/// application's record types.
public enum Schema {
    public static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE sample (
                    id INTEGER PRIMARY KEY,
                    name TEXT NOT NULL,
                    watch_root TEXT NOT NULL,
                    folder TEXT NOT NULL UNIQUE,
                    state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closing', 'closed', 'reported')),
                    opened_at TEXT NOT NULL,
                    last_image_at TEXT,
                    closed_at TEXT,
                    reported_at TEXT,
                    image_count INTEGER NOT NULL DEFAULT 0 CHECK (image_count >= 0),
                    particle_count INTEGER NOT NULL DEFAULT 0 CHECK (particle_count >= 0),
                    overlap_fraction REAL CHECK (overlap_fraction BETWEEN 0 AND 1)
                );
                CREATE INDEX sample_by_name ON sample(name);
                CREATE INDEX sample_by_opened ON sample(opened_at);

                CREATE TABLE image (
                    id INTEGER PRIMARY KEY,
                    sample_id INTEGER NOT NULL REFERENCES sample(id) ON DELETE CASCADE,
                    path TEXT NOT NULL,
                    content_sha256 TEXT NOT NULL CHECK (length(content_sha256) = 64),
                    file_size_bytes INTEGER NOT NULL CHECK (file_size_bytes >= 0),
                    frame INTEGER NOT NULL DEFAULT 0 CHECK (frame >= 0),
                    state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'processing', 'done', 'failed', 'skipped')),
                    error TEXT,
                    attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
                    width_px INTEGER CHECK (width_px > 0),
                    height_px INTEGER CHECK (height_px > 0),
                    pixel_size_x_nm REAL CHECK (pixel_size_x_nm > 0),
                    pixel_size_y_nm REAL CHECK (pixel_size_y_nm > 0),
                    acquisition_date TEXT,
                    acquisition_time TEXT,
                    microscope TEXT,
                    voltage_v REAL,
                    indicated_magnification REAL,
                    exposure_s REAL,
                    queued_at TEXT NOT NULL,
                    started_at TEXT,
                    finished_at TEXT,
                    UNIQUE (content_sha256, frame)
                );
                CREATE INDEX image_by_sample ON image(sample_id);
                CREATE INDEX image_by_state ON image(state, queued_at);
                CREATE INDEX image_by_finished ON image(finished_at);

                CREATE TABLE analysis (
                    id INTEGER PRIMARY KEY,
                    image_id INTEGER NOT NULL REFERENCES image(id) ON DELETE CASCADE,
                    is_current INTEGER NOT NULL DEFAULT 1 CHECK (is_current IN (0, 1)),
                    segmenter TEXT NOT NULL,
                    model_name TEXT,
                    model_version TEXT,
                    model_sha256 TEXT,
                    parameters_json TEXT NOT NULL CHECK (json_valid(parameters_json)),
                    software_version TEXT NOT NULL,
                    segmentation_seconds REAL CHECK (segmentation_seconds >= 0),
                    analysis_seconds REAL CHECK (analysis_seconds >= 0),
                    total_seconds REAL CHECK (total_seconds >= 0),
                    particle_count INTEGER NOT NULL CHECK (particle_count >= 0),
                    created_at TEXT NOT NULL
                );
                CREATE UNIQUE INDEX analysis_current_per_image ON analysis(image_id) WHERE is_current = 1;
                CREATE INDEX analysis_by_image ON analysis(image_id);

                CREATE TABLE particle (
                    id INTEGER PRIMARY KEY,
                    analysis_id INTEGER NOT NULL REFERENCES analysis(id) ON DELETE CASCADE,
                    particle_index INTEGER NOT NULL CHECK (particle_index >= 1),
                    area_px INTEGER NOT NULL CHECK (area_px > 0),
                    area_nm2 REAL NOT NULL CHECK (area_nm2 > 0),
                    equivalent_diameter_nm REAL NOT NULL CHECK (equivalent_diameter_nm > 0),
                    perimeter_nm REAL NOT NULL CHECK (perimeter_nm >= 0),
                    circularity REAL NOT NULL CHECK (circularity >= 0),
                    feret_min_nm REAL NOT NULL CHECK (feret_min_nm >= 0),
                    feret_max_nm REAL NOT NULL CHECK (feret_max_nm >= feret_min_nm),
                    aspect_ratio REAL NOT NULL CHECK (aspect_ratio >= 0),
                    convexity REAL NOT NULL CHECK (convexity >= 0),
                    solidity REAL NOT NULL CHECK (solidity >= 0),
                    centroid_x_px REAL NOT NULL,
                    centroid_y_px REAL NOT NULL,
                    bbox_x_px INTEGER NOT NULL CHECK (bbox_x_px >= 0),
                    bbox_y_px INTEGER NOT NULL CHECK (bbox_y_px >= 0),
                    bbox_width_px INTEGER NOT NULL CHECK (bbox_width_px > 0),
                    bbox_height_px INTEGER NOT NULL CHECK (bbox_height_px > 0),
                    separated INTEGER NOT NULL CHECK (separated IN (0, 1)),
                    overlap_flag INTEGER NOT NULL CHECK (overlap_flag IN (0, 1)),
                    UNIQUE (analysis_id, particle_index)
                );

                CREATE TABLE sample_aggregate (
                    sample_id INTEGER NOT NULL REFERENCES sample(id) ON DELETE CASCADE,
                    measurement TEXT NOT NULL,
                    n INTEGER NOT NULL CHECK (n >= 0),
                    mean REAL, sd REAL, min REAL, p10 REAL, median REAL, p90 REAL, max REAL,
                    PRIMARY KEY (sample_id, measurement)
                ) WITHOUT ROWID;

                CREATE VIEW current_particle AS
                    SELECT p.*, a.image_id, i.sample_id, i.path AS image_path, i.frame
                    FROM particle p
                    JOIN analysis a ON a.id = p.analysis_id AND a.is_current = 1
                    JOIN image i ON i.id = a.image_id;

                CREATE VIEW sample_statistics AS
                    SELECT s.id AS sample_id, s.name AS sample, s.folder, s.state, s.image_count, s.particle_count,
                           s.overlap_fraction, g.measurement, g.n, g.mean, g.sd, g.min, g.p10, g.median, g.p90, g.max
                    FROM sample s JOIN sample_aggregate g ON g.sample_id = s.id;
                """)
        }
        m.registerMigration("v2-daemon-status") { db in
            try db.execute(sql: """
                CREATE TABLE daemon_status (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    pid INTEGER NOT NULL,
                    version TEXT NOT NULL,
                    started_at TEXT NOT NULL,
                    heartbeat_at TEXT NOT NULL,
                    stopped_at TEXT,
                    activity TEXT NOT NULL DEFAULT 'idle',
                    current_image_id INTEGER REFERENCES image(id) ON DELETE SET NULL,
                    current_stage TEXT,
                    watch_roots_json TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(watch_roots_json)),
                    watch_mode TEXT NOT NULL DEFAULT '',
                    config_path TEXT
                );
                CREATE TABLE daemon_event (
                    id INTEGER PRIMARY KEY,
                    at TEXT NOT NULL,
                    level TEXT NOT NULL CHECK (level IN ('info', 'warning', 'error')),
                    message TEXT NOT NULL,
                    sample_id INTEGER REFERENCES sample(id) ON DELETE SET NULL,
                    image_id INTEGER REFERENCES image(id) ON DELETE SET NULL
                );
                CREATE INDEX daemon_event_by_time ON daemon_event(at);
                """)
        }
        m.registerMigration("v3-identity") { db in
            // sample folders known by device and inode (a renamed folder stays its sample);
            // images replaced by newer content at the same path are kept but superseded; a
            // report that could not be written says why (and is retried)
            try db.execute(sql: """
                ALTER TABLE sample ADD COLUMN folder_device INTEGER;
                ALTER TABLE sample ADD COLUMN folder_inode INTEGER;
                ALTER TABLE sample ADD COLUMN report_error TEXT;
                CREATE INDEX sample_by_folder_identity ON sample(folder_device, folder_inode);
                ALTER TABLE image ADD COLUMN superseded_by INTEGER REFERENCES image(id) ON DELETE SET NULL;
                CREATE INDEX image_by_path ON image(path);
                """)
        }
        m.registerMigration("v4-particle-confidence") { db in
            // an instance-aware network's confidence in each particle (its mean particle
            // probability); NULL for the classical segmenter and for masks
            try db.execute(sql: """
                ALTER TABLE particle ADD COLUMN confidence REAL CHECK (confidence BETWEEN 0 AND 1);
                """)
        }
        m.registerMigration("v5-facility") { db in
            // the instrument (antemad's instrument.name) on every sample and image; and the
            // outbox of changes waiting to be shipped to a facility's PostgreSQL: filled by
            // triggers while a shipping target is set (so every write path is covered), one row
            // per sample or image however often it changes (its version counts the changes), emptied
            // by the shipper once the server acknowledged the row's current content
            try db.execute(sql: """
                ALTER TABLE sample ADD COLUMN instrument TEXT NOT NULL DEFAULT '';
                ALTER TABLE image ADD COLUMN instrument TEXT NOT NULL DEFAULT '';

                CREATE TABLE shipping (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    target TEXT NOT NULL,
                    enabled_at TEXT NOT NULL,
                    last_shipped_at TEXT,
                    last_error TEXT,
                    last_error_at TEXT
                );
                CREATE TABLE outbox (
                    id INTEGER PRIMARY KEY,
                    kind TEXT NOT NULL CHECK (kind IN ('sample', 'image')),
                    ref_id INTEGER NOT NULL,
                    version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
                    queued_at TEXT NOT NULL,
                    UNIQUE (kind, ref_id)
                );
                CREATE TRIGGER outbox_sample_insert AFTER INSERT ON sample WHEN EXISTS (SELECT 1 FROM shipping)
                BEGIN
                    INSERT INTO outbox (kind, ref_id, queued_at) VALUES ('sample', NEW.id, strftime('%Y-%m-%d %H:%M:%f', 'now'))
                    ON CONFLICT (kind, ref_id) DO UPDATE SET version = version + 1;
                END;
                CREATE TRIGGER outbox_sample_update AFTER UPDATE ON sample WHEN EXISTS (SELECT 1 FROM shipping)
                BEGIN
                    INSERT INTO outbox (kind, ref_id, queued_at) VALUES ('sample', NEW.id, strftime('%Y-%m-%d %H:%M:%f', 'now'))
                    ON CONFLICT (kind, ref_id) DO UPDATE SET version = version + 1;
                END;
                CREATE TRIGGER outbox_image_insert AFTER INSERT ON image
                WHEN NEW.state IN ('done', 'failed', 'skipped') AND EXISTS (SELECT 1 FROM shipping)
                BEGIN
                    INSERT INTO outbox (kind, ref_id, queued_at) VALUES ('image', NEW.id, strftime('%Y-%m-%d %H:%M:%f', 'now'))
                    ON CONFLICT (kind, ref_id) DO UPDATE SET version = version + 1;
                END;
                CREATE TRIGGER outbox_image_update AFTER UPDATE ON image
                WHEN NEW.state IN ('done', 'failed', 'skipped') AND EXISTS (SELECT 1 FROM shipping)
                BEGIN
                    INSERT INTO outbox (kind, ref_id, queued_at) VALUES ('image', NEW.id, strftime('%Y-%m-%d %H:%M:%f', 'now'))
                    ON CONFLICT (kind, ref_id) DO UPDATE SET version = version + 1;
                END;

                DROP VIEW current_particle;
                CREATE VIEW current_particle AS
                    SELECT p.*, a.image_id, i.sample_id, i.path AS image_path, i.frame, i.instrument
                    FROM particle p
                    JOIN analysis a ON a.id = p.analysis_id AND a.is_current = 1
                    JOIN image i ON i.id = a.image_id;
                DROP VIEW sample_statistics;
                CREATE VIEW sample_statistics AS
                    SELECT s.id AS sample_id, s.name AS sample, s.folder, s.state, s.image_count, s.particle_count,
                           s.overlap_fraction, g.measurement, g.n, g.mean, g.sd, g.min, g.p10, g.median, g.p90, g.max, s.instrument
                    FROM sample s JOIN sample_aggregate g ON g.sample_id = s.id;
                """)
        }
        m.registerMigration("v6-pixel-lengths") { db in
            // images without a calibration are measured in pixels: every particle gets its lengths
            // in pixels (equivalent diameter, perimeter, Feret diameters), and its nm values are
            // NULL where its image has no pixel size (all of them or none). SQLite cannot drop a
            // NOT NULL, so the table is rebuilt (its view with it); earlier rows get their pixel
            // lengths from their nm lengths over the side of the square pixel of their area (area_nm2 / area_px; exact for square pixels)
            try db.execute(sql: """
                DROP VIEW current_particle;
                CREATE TABLE particle_v6 (
                    id INTEGER PRIMARY KEY,
                    analysis_id INTEGER NOT NULL REFERENCES analysis(id) ON DELETE CASCADE,
                    particle_index INTEGER NOT NULL CHECK (particle_index >= 1),
                    area_px INTEGER NOT NULL CHECK (area_px > 0),
                    equivalent_diameter_px REAL NOT NULL CHECK (equivalent_diameter_px > 0),
                    perimeter_px REAL NOT NULL CHECK (perimeter_px >= 0),
                    feret_min_px REAL NOT NULL CHECK (feret_min_px >= 0),
                    feret_max_px REAL NOT NULL CHECK (feret_max_px >= feret_min_px),
                    area_nm2 REAL CHECK (area_nm2 > 0),
                    equivalent_diameter_nm REAL CHECK (equivalent_diameter_nm > 0),
                    perimeter_nm REAL CHECK (perimeter_nm >= 0),
                    circularity REAL NOT NULL CHECK (circularity >= 0),
                    feret_min_nm REAL CHECK (feret_min_nm >= 0),
                    feret_max_nm REAL CHECK (feret_max_nm >= feret_min_nm),
                    aspect_ratio REAL NOT NULL CHECK (aspect_ratio >= 0),
                    convexity REAL NOT NULL CHECK (convexity >= 0),
                    solidity REAL NOT NULL CHECK (solidity >= 0),
                    centroid_x_px REAL NOT NULL,
                    centroid_y_px REAL NOT NULL,
                    bbox_x_px INTEGER NOT NULL CHECK (bbox_x_px >= 0),
                    bbox_y_px INTEGER NOT NULL CHECK (bbox_y_px >= 0),
                    bbox_width_px INTEGER NOT NULL CHECK (bbox_width_px > 0),
                    bbox_height_px INTEGER NOT NULL CHECK (bbox_height_px > 0),
                    separated INTEGER NOT NULL CHECK (separated IN (0, 1)),
                    overlap_flag INTEGER NOT NULL CHECK (overlap_flag IN (0, 1)),
                    confidence REAL CHECK (confidence BETWEEN 0 AND 1),
                    UNIQUE (analysis_id, particle_index),
                    CHECK ((area_nm2 IS NULL) = (equivalent_diameter_nm IS NULL) AND (area_nm2 IS NULL) = (perimeter_nm IS NULL)
                           AND (area_nm2 IS NULL) = (feret_min_nm IS NULL) AND (area_nm2 IS NULL) = (feret_max_nm IS NULL))
                );
                """)
            let columns = """
                id, analysis_id, particle_index, area_px, area_nm2, equivalent_diameter_nm, perimeter_nm, circularity, feret_min_nm,
                feret_max_nm, aspect_ratio, convexity, solidity, centroid_x_px, centroid_y_px, bbox_x_px, bbox_y_px, bbox_width_px,
                bbox_height_px, separated, overlap_flag, confidence
                """
            // a cursor: a large history is not held in memory at once
            let rows = try Row.fetchCursor(db, sql: """
                SELECT p.id, p.area_px, p.area_nm2, p.perimeter_nm, p.feret_min_nm, p.feret_max_nm
                FROM particle p
                """)
            let insert = try db.makeStatement(sql: """
                INSERT INTO particle_v6 (\(columns), equivalent_diameter_px, perimeter_px, feret_min_px, feret_max_px)
                SELECT \(columns), ?, ?, ?, ? FROM particle WHERE id = ?
                """)
            while let row = try rows.next() {
                let areaPx: Int = row["area_px"], areaNm2: Double = row["area_nm2"]
                // the side of the square pixel of the same area
                let side = areaPx > 0 && areaNm2 > 0 ? (areaNm2 / Double(areaPx)).squareRoot() : 1
                let perimeterNm: Double = row["perimeter_nm"], feretMinNm: Double = row["feret_min_nm"], feretMaxNm: Double = row["feret_max_nm"]
                let id: Int64 = row["id"]
                try insert.execute(arguments: [(4 * Double(areaPx) / Double.pi).squareRoot(), perimeterNm / side, feretMinNm / side,
                                                max(feretMaxNm, feretMinNm) / side, id])
            }
            try db.execute(sql: """
                DROP TABLE particle;
                ALTER TABLE particle_v6 RENAME TO particle;
                CREATE VIEW current_particle AS
                    SELECT p.*, a.image_id, i.sample_id, i.path AS image_path, i.frame, i.instrument
                    FROM particle p
                    JOIN analysis a ON a.id = p.analysis_id AND a.is_current = 1
                    JOIN image i ON i.id = a.image_id;
                """)
        }
        m.registerMigration("v7-network-scale") { db in
            // the factor the frame's pixels were resampled by before the network: from the pixel
            // size and the model's range for a calibrated frame, estimated (or --network-scale)
            // for one without a calibration; NULL for the classical segmenter and masks, and for
            // analyses recorded before
            try db.execute(sql: "ALTER TABLE analysis ADD COLUMN network_scale REAL CHECK (network_scale > 0)")
        }
        m.registerMigration("v8-dropped-counts") { db in
            // a network's particles left out: below the minimum confidence, and as debris beside
            // the frame's particles (small against them and not sure); NULL for the classical
            // segmenter and masks, and for analyses recorded before
            try db.execute(sql: """
                ALTER TABLE analysis ADD COLUMN dropped_unsure_count INTEGER CHECK (dropped_unsure_count >= 0);
                ALTER TABLE analysis ADD COLUMN dropped_debris_count INTEGER CHECK (dropped_debris_count >= 0);
                """)
        }
        return m
    }
}
