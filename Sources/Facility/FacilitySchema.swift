import Logging
import PostgresNIO

/// The facility database's schema: the local schema's tables and views (docs/database.md),
/// each row keyed by its instrument and the id the microscope's local database gave it, with
/// explicit types and the same constraints. Migrations are frozen once shipped, as the local
/// ones (`Store.Schema`): a change is a new entry appended to `migrations`.
///
/// What differs from the local schema, and why:
/// - every table has `instrument` (TEXT, part of the primary key and of every foreign key):
///   samples of the same folder name on two instruments are two samples;
/// - timestamps are `timestamptz`, counts and ids `bigint`/`integer`, measurements `double precision`;
///   flags stay integers 0/1 so that the same queries run on both engines;
/// - `image.superseded_by` names the newer image without a foreign key (the newer image may
///   arrive later); the daemon's own tables (`daemon_status`, `daemon_event`, the outbox) stay local;
/// - it holds each image's current analysis; earlier analyses stay in the microscope's file.
public enum FacilitySchema {
    public static let migrations: [(version: String, sql: String)] = [
        ("v1", """
            CREATE TABLE instrument (
                name TEXT PRIMARY KEY CHECK (name <> ''),
                software_version TEXT NOT NULL,
                first_shipped_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                last_shipped_at TIMESTAMPTZ NOT NULL DEFAULT now()
            );

            CREATE TABLE sample (
                instrument TEXT NOT NULL REFERENCES instrument(name),
                id BIGINT NOT NULL,
                name TEXT NOT NULL,
                watch_root TEXT NOT NULL,
                folder TEXT NOT NULL,
                state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closing', 'closed', 'reported')),
                opened_at TIMESTAMPTZ NOT NULL,
                last_image_at TIMESTAMPTZ,
                closed_at TIMESTAMPTZ,
                reported_at TIMESTAMPTZ,
                image_count INTEGER NOT NULL DEFAULT 0 CHECK (image_count >= 0),
                particle_count INTEGER NOT NULL DEFAULT 0 CHECK (particle_count >= 0),
                overlap_fraction DOUBLE PRECISION CHECK (overlap_fraction BETWEEN 0 AND 1),
                folder_device BIGINT,
                folder_inode BIGINT,
                report_error TEXT,
                PRIMARY KEY (instrument, id),
                CONSTRAINT sample_folder_per_instrument UNIQUE (instrument, folder) DEFERRABLE INITIALLY DEFERRED
            );
            CREATE INDEX sample_by_name ON sample(name);
            CREATE INDEX sample_by_opened ON sample(opened_at);

            CREATE TABLE image (
                instrument TEXT NOT NULL,
                id BIGINT NOT NULL,
                sample_id BIGINT NOT NULL,
                path TEXT NOT NULL,
                content_sha256 TEXT NOT NULL CHECK (length(content_sha256) = 64),
                file_size_bytes BIGINT NOT NULL CHECK (file_size_bytes >= 0),
                frame INTEGER NOT NULL DEFAULT 0 CHECK (frame >= 0),
                state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'processing', 'done', 'failed', 'skipped')),
                error TEXT,
                attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
                width_px INTEGER CHECK (width_px > 0),
                height_px INTEGER CHECK (height_px > 0),
                pixel_size_x_nm DOUBLE PRECISION CHECK (pixel_size_x_nm > 0),
                pixel_size_y_nm DOUBLE PRECISION CHECK (pixel_size_y_nm > 0),
                acquisition_date TEXT,
                acquisition_time TEXT,
                microscope TEXT,
                voltage_v DOUBLE PRECISION,
                indicated_magnification DOUBLE PRECISION,
                exposure_s DOUBLE PRECISION,
                queued_at TIMESTAMPTZ NOT NULL,
                started_at TIMESTAMPTZ,
                finished_at TIMESTAMPTZ,
                superseded_by BIGINT,
                PRIMARY KEY (instrument, id),
                FOREIGN KEY (instrument, sample_id) REFERENCES sample(instrument, id) ON DELETE CASCADE,
                CONSTRAINT image_content_per_instrument UNIQUE (instrument, content_sha256, frame) DEFERRABLE INITIALLY DEFERRED
            );
            CREATE INDEX image_by_sample ON image(instrument, sample_id);
            CREATE INDEX image_by_finished ON image(finished_at);
            CREATE INDEX image_by_path ON image(path);

            CREATE TABLE analysis (
                instrument TEXT NOT NULL,
                id BIGINT NOT NULL,
                image_id BIGINT NOT NULL,
                is_current INTEGER NOT NULL DEFAULT 1 CHECK (is_current IN (0, 1)),
                segmenter TEXT NOT NULL,
                model_name TEXT,
                model_version TEXT,
                model_sha256 TEXT,
                parameters_json TEXT NOT NULL CHECK (parameters_json::jsonb IS NOT NULL),
                software_version TEXT NOT NULL,
                segmentation_seconds DOUBLE PRECISION CHECK (segmentation_seconds >= 0),
                analysis_seconds DOUBLE PRECISION CHECK (analysis_seconds >= 0),
                total_seconds DOUBLE PRECISION CHECK (total_seconds >= 0),
                particle_count INTEGER NOT NULL CHECK (particle_count >= 0),
                created_at TIMESTAMPTZ NOT NULL,
                PRIMARY KEY (instrument, id),
                FOREIGN KEY (instrument, image_id) REFERENCES image(instrument, id) ON DELETE CASCADE
            );
            CREATE UNIQUE INDEX analysis_current_per_image ON analysis(instrument, image_id) WHERE is_current = 1;

            CREATE TABLE particle (
                instrument TEXT NOT NULL,
                id BIGINT NOT NULL,
                analysis_id BIGINT NOT NULL,
                particle_index INTEGER NOT NULL CHECK (particle_index >= 1),
                area_px INTEGER NOT NULL CHECK (area_px > 0),
                area_nm2 DOUBLE PRECISION NOT NULL CHECK (area_nm2 > 0),
                equivalent_diameter_nm DOUBLE PRECISION NOT NULL CHECK (equivalent_diameter_nm > 0),
                perimeter_nm DOUBLE PRECISION NOT NULL CHECK (perimeter_nm >= 0),
                circularity DOUBLE PRECISION NOT NULL CHECK (circularity >= 0),
                feret_min_nm DOUBLE PRECISION NOT NULL CHECK (feret_min_nm >= 0),
                feret_max_nm DOUBLE PRECISION NOT NULL CHECK (feret_max_nm >= feret_min_nm),
                aspect_ratio DOUBLE PRECISION NOT NULL CHECK (aspect_ratio >= 0),
                convexity DOUBLE PRECISION NOT NULL CHECK (convexity >= 0),
                solidity DOUBLE PRECISION NOT NULL CHECK (solidity >= 0),
                centroid_x_px DOUBLE PRECISION NOT NULL,
                centroid_y_px DOUBLE PRECISION NOT NULL,
                bbox_x_px INTEGER NOT NULL CHECK (bbox_x_px >= 0),
                bbox_y_px INTEGER NOT NULL CHECK (bbox_y_px >= 0),
                bbox_width_px INTEGER NOT NULL CHECK (bbox_width_px > 0),
                bbox_height_px INTEGER NOT NULL CHECK (bbox_height_px > 0),
                separated INTEGER NOT NULL CHECK (separated IN (0, 1)),
                overlap_flag INTEGER NOT NULL CHECK (overlap_flag IN (0, 1)),
                confidence DOUBLE PRECISION CHECK (confidence BETWEEN 0 AND 1),
                PRIMARY KEY (instrument, id),
                FOREIGN KEY (instrument, analysis_id) REFERENCES analysis(instrument, id) ON DELETE CASCADE,
                UNIQUE (instrument, analysis_id, particle_index)
            );

            CREATE TABLE sample_aggregate (
                instrument TEXT NOT NULL,
                sample_id BIGINT NOT NULL,
                measurement TEXT NOT NULL,
                n INTEGER NOT NULL CHECK (n >= 0),
                mean DOUBLE PRECISION, sd DOUBLE PRECISION, min DOUBLE PRECISION, p10 DOUBLE PRECISION,
                median DOUBLE PRECISION, p90 DOUBLE PRECISION, max DOUBLE PRECISION,
                PRIMARY KEY (instrument, sample_id, measurement),
                FOREIGN KEY (instrument, sample_id) REFERENCES sample(instrument, id) ON DELETE CASCADE
            );

            CREATE VIEW current_particle AS
                SELECT p.id, p.analysis_id, p.particle_index, p.area_px, p.area_nm2, p.equivalent_diameter_nm, p.perimeter_nm,
                       p.circularity, p.feret_min_nm, p.feret_max_nm, p.aspect_ratio, p.convexity, p.solidity,
                       p.centroid_x_px, p.centroid_y_px, p.bbox_x_px, p.bbox_y_px, p.bbox_width_px, p.bbox_height_px,
                       p.separated, p.overlap_flag, p.confidence,
                       a.image_id, i.sample_id, i.path AS image_path, i.frame, i.instrument
                FROM particle p
                JOIN analysis a ON a.instrument = p.instrument AND a.id = p.analysis_id AND a.is_current = 1
                JOIN image i ON i.instrument = a.instrument AND i.id = a.image_id;

            CREATE VIEW sample_statistics AS
                SELECT s.id AS sample_id, s.name AS sample, s.folder, s.state, s.image_count, s.particle_count,
                       s.overlap_fraction, g.measurement, g.n, g.mean, g.sd, g.min, g.p10, g.median, g.p90, g.max, s.instrument
                FROM sample s JOIN sample_aggregate g ON g.instrument = s.instrument AND g.sample_id = s.id;
            """),
        // images without a calibration (the local v6-pixel-lengths): lengths in pixels on every
        // particle, nm values NULL where the image has no pixel size; rows shipped before get their
        // pixel lengths from their nm lengths over the side of the square pixel of their area
        ("v2-pixel-lengths", """
            DROP VIEW current_particle;
            ALTER TABLE particle ALTER COLUMN area_nm2 DROP NOT NULL;
            ALTER TABLE particle ALTER COLUMN equivalent_diameter_nm DROP NOT NULL;
            ALTER TABLE particle ALTER COLUMN perimeter_nm DROP NOT NULL;
            ALTER TABLE particle ALTER COLUMN feret_min_nm DROP NOT NULL;
            ALTER TABLE particle ALTER COLUMN feret_max_nm DROP NOT NULL;
            ALTER TABLE particle ADD COLUMN equivalent_diameter_px DOUBLE PRECISION CHECK (equivalent_diameter_px > 0);
            ALTER TABLE particle ADD COLUMN perimeter_px DOUBLE PRECISION CHECK (perimeter_px >= 0);
            ALTER TABLE particle ADD COLUMN feret_min_px DOUBLE PRECISION CHECK (feret_min_px >= 0);
            ALTER TABLE particle ADD COLUMN feret_max_px DOUBLE PRECISION CHECK (feret_max_px >= feret_min_px);
            UPDATE particle SET equivalent_diameter_px = sqrt(4 * area_px / pi()),
                perimeter_px = perimeter_nm / sqrt(area_nm2 / area_px),
                feret_min_px = feret_min_nm / sqrt(area_nm2 / area_px),
                feret_max_px = greatest(feret_max_nm, feret_min_nm) / sqrt(area_nm2 / area_px);
            ALTER TABLE particle ALTER COLUMN equivalent_diameter_px SET NOT NULL;
            ALTER TABLE particle ALTER COLUMN perimeter_px SET NOT NULL;
            ALTER TABLE particle ALTER COLUMN feret_min_px SET NOT NULL;
            ALTER TABLE particle ALTER COLUMN feret_max_px SET NOT NULL;
            ALTER TABLE particle ADD CONSTRAINT particle_nm_all_or_none CHECK ((area_nm2 IS NULL) = (equivalent_diameter_nm IS NULL)
                AND (area_nm2 IS NULL) = (perimeter_nm IS NULL) AND (area_nm2 IS NULL) = (feret_min_nm IS NULL)
                AND (area_nm2 IS NULL) = (feret_max_nm IS NULL));
            CREATE VIEW current_particle AS
                SELECT p.id, p.analysis_id, p.particle_index, p.area_px, p.equivalent_diameter_px, p.perimeter_px, p.feret_min_px, p.feret_max_px,
                       p.area_nm2, p.equivalent_diameter_nm, p.perimeter_nm,
                       p.circularity, p.feret_min_nm, p.feret_max_nm, p.aspect_ratio, p.convexity, p.solidity,
                       p.centroid_x_px, p.centroid_y_px, p.bbox_x_px, p.bbox_y_px, p.bbox_width_px, p.bbox_height_px,
                       p.separated, p.overlap_flag, p.confidence,
                       a.image_id, i.sample_id, i.path AS image_path, i.frame, i.instrument
                FROM particle p
                JOIN analysis a ON a.instrument = p.instrument AND a.id = p.analysis_id AND a.is_current = 1
                JOIN image i ON i.instrument = a.instrument AND i.id = a.image_id
            """),
        // the local v7-network-scale: the factor the frame was resampled by for the network
        ("v3-network-scale", """
            ALTER TABLE analysis ADD COLUMN network_scale DOUBLE PRECISION CHECK (network_scale > 0)
            """),
        // the local v8-dropped-counts: a network's particles left out as unsure and as debris
        ("v4-dropped-counts", """
            ALTER TABLE analysis ADD COLUMN dropped_unsure_count INTEGER CHECK (dropped_unsure_count >= 0);
            ALTER TABLE analysis ADD COLUMN dropped_debris_count INTEGER CHECK (dropped_debris_count >= 0)
            """),
    ]

    /// The newest version.
    public static var currentVersion: String { migrations.last!.version }

    /// Brings the database to the current schema; several daemons may start at once, so the
    /// whole step holds a transaction-level advisory lock (the second waits, then finds the
    /// schema made). Returns the versions it applied.
    @discardableResult
    public static func migrate(_ connection: PostgresConnection, logger: Logger) async throws -> [String] {
        try await connection.withTransaction(logger: logger) { c in
            try await c.query("SELECT pg_advisory_xact_lock(7261021345)", logger: logger)
            try await c.query("""
                CREATE TABLE IF NOT EXISTS antema_schema_migration (
                    version TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())
                """, logger: logger)
            var applied = Set<String>()
            for try await (version) in try await c.query("SELECT version FROM antema_schema_migration", logger: logger).decode(String.self) {
                applied.insert(version)
            }
            var done: [String] = []
            for (version, sql) in migrations where !applied.contains(version) {
                // one statement per query (the extended protocol); the migrations hold no ';' but between statements
                for statement in sql.split(separator: ";") where !statement.allSatisfy(\.isWhitespace) {
                    try await c.query(PostgresQuery(unsafeSQL: String(statement)), logger: logger)
                }
                try await c.query("INSERT INTO antema_schema_migration (version) VALUES (\(version))", logger: logger)
                done.append(version)
            }
            return done
        }
    }
}
