package io.embedseal.sinks.postgres;

import io.embedseal.keyring.KekResolver;
import io.embedseal.keyring.kms.Kms;
import io.embedseal.keyring.kms.KmsException;
import io.embedseal.keyring.kms.KmsUnavailableException;
import io.embedseal.keyring.tenant.TenantState;
import io.embedseal.serdes.SealedRecordKey;
import io.embedseal.serdes.envelope.RecordVersion;
import io.embedseal.sinks.RecordVersions;
import io.embedseal.sinks.RefusedRecordException;
import io.embedseal.sinks.ShredRecord;
import io.embedseal.sinks.StoreException;
import io.embedseal.sinks.StoredRecord;
import io.embedseal.sinks.VectorStore;
import io.embedseal.sinks.blind.Dcpe;
import io.embedseal.sinks.blind.VectorKey;
import io.embedseal.sinks.blind.VectorKeys;
import io.embedseal.sinks.postgres.PostgresSinkConfig.Mode;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The PostgreSQL store. One table, primary key (tenant, embedding_id):
 * <pre>
 *   tenant text, embedding_id text, kek_ref text, dek_id text, envelope bytea,
 *   source_topic text, source_partition int, source_offset bigint, stored_at timestamptz
 *   [index mode: model text, embedding vector(N) with an HNSW index]
 *   [blind mode: blind vector(N) with an HNSW index (vector_l2_ops), blind_nonce bytea, blind_key bytea]
 * </pre>
 * and {@code <table>_shreds} recording what each task deleted for a destroyed tenant; in blind mode also
 * {@code <table>_vector_keys} ({@link PostgresVectorKeys}), each tenant's vector key wrapped by its KEK. A {@code put}'s records are
 * written in one transaction ({@link #flush()}); the last operation per key wins, so a batch holding an upsert and a
 * tombstone of one key ends as Kafka's order says. SQL errors in index mode are reported by SQLState only: the
 * server's message could quote a vector.
 */
public final class PostgresVectorStore implements VectorStore {

    private static final Logger LOG = LoggerFactory.getLogger(PostgresVectorStore.class);

    private final PostgresSinkConfig config;
    private final String connector;
    private final int task;
    private final boolean index;
    /** Blind mode: the tenants' vector keys; null in the other modes. */
    private final @Nullable VectorKeys vectorKeys;

    private final String table;
    private final String shreds;
    /** What this put changes, last operation per key: a record, a delete marker (tombstone), or null (unchecked). */
    private final Map<SealedRecordKey, @Nullable Pending> pending = new LinkedHashMap<>();
    /** Versions held per key, as read from the table in this put or set by its operations; cleared by flush. */
    private final Map<SealedRecordKey, Optional<RecordVersions.Held>> held = new java.util.HashMap<>();
    /** Off only in a test that shows the rollback it prevents. */
    private final boolean enforceVersions;

    /**
     * A record to write; a tombstone keeps a delete marker's envelope and version, with no vector. In blind mode,
     * {@code blind} is the vector encrypted under the tenant's vector key {@code blindKey}.
     */
    private record Pending(
            StoredRecord record, boolean tombstone, Dcpe.@Nullable Ciphertext blind, byte @Nullable [] blindKey) {
        Pending(StoredRecord record, boolean tombstone) {
            this(record, tombstone, null, null);
        }
    }

    private @Nullable Connection connection;

    private PostgresVectorStore(
            PostgresSinkConfig config,
            String connector,
            int task,
            boolean index,
            Connection connection,
            boolean enforceVersions,
            @Nullable Kms blindKms,
            @Nullable KekResolver naming) {
        this.enforceVersions = enforceVersions;
        // Blind mode: the vector keys live in <table>_vector_keys, read and written on this store's connection.
        this.vectorKeys = blindKms == null || naming == null
                ? null
                : new VectorKeys(
                        blindKms, naming, new PostgresVectorKeys(this::connection, config.table()), config.blindBeta());
        this.config = config;
        this.connector = connector;
        this.task = task;
        this.index = index;
        this.table = config.table();
        this.shreds = config.table() + "_shreds";
        this.connection = connection;
    }

    /**
     * Connects, decides the mode (pgvector detection), creates what is missing.
     *
     * @throws StoreException naming the setting when the database refuses or the mode cannot be had
     */
    public static PostgresVectorStore open(PostgresSinkConfig config, String connector, int task) {
        return open(config, connector, task, true);
    }

    /**
     * @param keyring the tenants' KMS and key naming: blind mode wraps each tenant's vector key under its KEK
     */
    public static PostgresVectorStore open(
            PostgresSinkConfig config, String connector, int task, @Nullable Kms kms, @Nullable KekResolver naming) {
        return open(config, connector, task, true, kms, naming);
    }

    /** Test only: {@code enforceVersions=false} lets an older record replace a newer one, as before envelope v2. */
    public static PostgresVectorStore open(
            PostgresSinkConfig config, String connector, int task, boolean enforceVersions) {
        return open(config, connector, task, enforceVersions, null, null);
    }

    /** Test only: as {@link #open(PostgresSinkConfig, String, int, Kms, KekResolver)}, without the version check. */
    public static PostgresVectorStore open(
            PostgresSinkConfig config,
            String connector,
            int task,
            boolean enforceVersions,
            @Nullable Kms kms,
            @Nullable KekResolver naming) {
        Connection c = connect(config);
        try {
            boolean available = exists(c, "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'");
            boolean installed = exists(c, "SELECT 1 FROM pg_extension WHERE extname = 'vector'");
            Mode mode = config.mode();
            if ((mode == Mode.INDEX || mode == Mode.BLIND) && !available) {
                throw new StoreException(
                        PostgresSinkConfig.MODE + "=" + mode.name().toLowerCase(java.util.Locale.ROOT)
                                + " but the vector extension (pgvector) is not available in this database: install "
                                + "pgvector, or use " + PostgresSinkConfig.MODE + "=sealed",
                        null,
                        false);
            }
            boolean index = switch (mode) {
                case SEALED, BLIND -> false;
                case INDEX -> true;
                case AUTO -> available && config.vectorDimensions() > 0;
            };
            if (mode == Mode.BLIND && (kms == null || naming == null)) {
                throw new StoreException(
                        PostgresSinkConfig.MODE + "=blind needs the tenants' KMS (keyring settings) to wrap their "
                                + "vector keys",
                        null,
                        false);
            }
            LOG.info(
                    "PostgreSQL at {}: pgvector {}; {} mode{}",
                    redact(config.url()),
                    installed ? "installed" : available ? "available" : "not available",
                    index ? "index" : mode == Mode.BLIND ? "blind" : "sealed",
                    mode == Mode.AUTO && available && config.vectorDimensions() == 0
                            ? " (pgvector is there, but " + PostgresSinkConfig.VECTOR_DIMENSIONS + " is not set)"
                            : "");
            PostgresVectorStore store = new PostgresVectorStore(
                    config, connector, task, index, c, enforceVersions, mode == Mode.BLIND ? kms : null, naming);
            store.createSchema(!installed);
            return store;
        } catch (SQLException e) {
            closeQuietly(c);
            throw new StoreException(
                    "cannot prepare the tables in " + redact(config.url()) + " (" + e.getSQLState() + "): "
                            + e.getMessage(),
                    e,
                    false);
        } catch (RuntimeException e) {
            closeQuietly(c);
            throw e;
        }
    }

    /**
     * A connection with the sink's driver settings (batched inserts rewritten into multi-row inserts).
     *
     * @param user     may be null
     * @param password may be null
     */
    public static Connection connect(String url, String user, @Nullable String password, String applicationName)
            throws SQLException {
        Properties p = new Properties();
        if (user != null) {
            p.setProperty("user", user);
        }
        if (password != null) {
            p.setProperty("password", password);
        }
        p.setProperty("reWriteBatchedInserts", "true");
        p.setProperty("ApplicationName", applicationName);
        return DriverManager.getConnection(url, p);
    }

    private static Connection connect(PostgresSinkConfig config) {
        try {
            Connection c = connect(config.url(), config.user(), config.password(), "embedseal-sink");
            c.setAutoCommit(false);
            return c;
        } catch (SQLException e) {
            String state = e.getSQLState() == null ? "" : e.getSQLState();
            String hint = state.startsWith("28")
                    ? " (check " + PostgresSinkConfig.USER + " and " + PostgresSinkConfig.PASSWORD + ")"
                    : state.startsWith("3D")
                            ? " (the database in " + PostgresSinkConfig.URL + " does not exist)"
                            : state.startsWith("08")
                                    ? " (is the server up and " + PostgresSinkConfig.URL + " right?)"
                                    : "";
            throw new StoreException(
                    "cannot connect to " + redact(config.url()) + hint + ": " + e.getMessage(),
                    e,
                    state.startsWith("08"));
        }
    }

    /** The JDBC URL without a password parameter. */
    static String redact(String url) {
        return url.replaceAll("(?i)(password=)[^&]*", "$1***");
    }

    private static boolean exists(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement();
                ResultSet rs = s.executeQuery(sql)) {
            boolean found = rs.next();
            c.commit();
            return found;
        }
    }

    private void createSchema(boolean createExtension) throws SQLException {
        try (Statement s = java.util.Objects.requireNonNull(connection, "connected before the schema")
                .createStatement()) {
            // Tasks start together: serialise their DDL on a lock named after the table.
            s.execute("SELECT pg_advisory_xact_lock(hashtext('embedseal:" + table + "'))");
            if ((index || blind()) && createExtension) {
                s.execute("CREATE EXTENSION IF NOT EXISTS vector");
            }
            s.execute("CREATE TABLE IF NOT EXISTS " + table + " ("
                    + "tenant text NOT NULL, embedding_id text NOT NULL, kek_ref text NOT NULL, dek_id text NOT NULL, "
                    + "envelope bytea NOT NULL, source_topic text NOT NULL, source_partition integer NOT NULL, "
                    + "source_offset bigint NOT NULL, stored_at timestamptz NOT NULL DEFAULT now(), "
                    + "PRIMARY KEY (tenant, embedding_id))");
            // Envelope v2: the version of what a row holds (v1 rows: none, all zeros), and whether the row is a
            // sealed delete kept so that an older record cannot come back.
            s.execute("ALTER TABLE " + table + " ADD COLUMN IF NOT EXISTS record_version bytea NOT NULL DEFAULT "
                    + "'\\x00000000000000000000000000000000'::bytea");
            s.execute("ALTER TABLE " + table + " ADD COLUMN IF NOT EXISTS deleted boolean NOT NULL DEFAULT false");
            if (index) {
                s.execute("ALTER TABLE " + table + " ADD COLUMN IF NOT EXISTS model text");
                s.execute("ALTER TABLE " + table + " ADD COLUMN IF NOT EXISTS embedding vector("
                        + config.vectorDimensions() + ")");
                s.execute("CREATE INDEX IF NOT EXISTS " + baseName(table) + "_hnsw ON " + table
                        + " USING hnsw (embedding " + config.vectorOps() + ")");
            }
            if (blind()) {
                refusePlaintextVectors(s);
                s.execute("ALTER TABLE " + table + " ADD COLUMN IF NOT EXISTS blind vector(" + config.vectorDimensions()
                        + ")");
                s.execute("ALTER TABLE " + table + " ADD COLUMN IF NOT EXISTS blind_nonce bytea");
                s.execute("ALTER TABLE " + table + " ADD COLUMN IF NOT EXISTS blind_key bytea");
                // Euclidean distance between ciphertexts is what scale-and-perturb preserves (approximately).
                s.execute("CREATE INDEX IF NOT EXISTS " + baseName(table) + "_blind_hnsw ON " + table
                        + " USING hnsw (blind vector_l2_ops)");
                PostgresVectorKeys.create(s, table);
            }
            s.execute("CREATE TABLE IF NOT EXISTS " + shreds + " ("
                    + "tenant text NOT NULL, connector text NOT NULL, task integer NOT NULL, "
                    + "deleted_rows bigint NOT NULL, deleted_vectors bigint NOT NULL, kept_sealed_rows bigint NOT NULL, "
                    + "shredded_at timestamptz NOT NULL, receipted_at timestamptz, "
                    + "PRIMARY KEY (tenant, connector, task))");
        }
        connection.commit();
    }

    /**
     * Blind mode on a table that index mode filled: its plaintext vectors would stay (updates and shreds in blind mode
     * do not touch them). Refused, naming the setting, until they are gone.
     */
    private void refusePlaintextVectors(Statement s) throws SQLException {
        boolean column;
        // The table as the statements below resolve it (search path, or its schema), not a namesake elsewhere.
        try (ResultSet rs = s.executeQuery("SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('" + table
                + "') AND attname = 'embedding' AND NOT attisdropped")) {
            column = rs.next();
        }
        if (!column) {
            return;
        }
        try (ResultSet rs = s.executeQuery("SELECT EXISTS (SELECT 1 FROM " + table + " WHERE embedding IS NOT NULL)")) {
            if (rs.next() && rs.getBoolean(1)) {
                throw new StoreException(
                        PostgresSinkConfig.MODE + "=blind on " + table + ", which holds plaintext vectors written in "
                                + "index mode: blind mode would leave them there. Clear them first (UPDATE " + table
                                + " SET embedding = NULL, model = NULL, then VACUUM FULL " + table + " so that no dead "
                                + "row or index page keeps them), or use another " + PostgresSinkConfig.TABLE,
                        null,
                        false);
            }
        }
    }

    private static String baseName(String table) {
        int dot = table.indexOf('.');
        return dot < 0 ? table : table.substring(dot + 1);
    }

    public boolean indexMode() {
        return index;
    }

    /** Whether vectors are stored encrypted under the tenants' vector keys. */
    public boolean blindMode() {
        return blind();
    }

    private boolean blind() {
        return vectorKeys != null;
    }

    public String table() {
        return table;
    }

    @Override
    public String describe() {
        return "postgresql table " + table + " at " + redact(config.url());
    }

    @Override
    public boolean needsPlaintext() {
        return index || blind();
    }

    @Override
    public void prepare(java.util.Collection<SealedRecordKey> keys) {
        held.clear();
        if (!enforceVersions || keys.isEmpty()) {
            return;
        }
        String[] tenants = new String[keys.size()];
        String[] ids = new String[keys.size()];
        int n = 0;
        for (SealedRecordKey k : keys) {
            tenants[n] = k.tenantId();
            ids[n++] = k.embeddingId();
        }
        try {
            Connection c = connection();
            // One query for the whole batch, one primary-key probe per key (a nested loop over the keys).
            try (PreparedStatement ps = c.prepareStatement("SELECT k.tenant, k.id, " + qualified(HELD_COLUMNS, "h")
                    + " FROM unnest(?::text[], ?::text[]) AS k(tenant, id) JOIN " + table
                    + " h ON h.tenant = k.tenant AND h.embedding_id = k.id")) {
                ps.setArray(1, c.createArrayOf("text", tenants));
                ps.setArray(2, c.createArrayOf("text", ids));
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        held.put(new SealedRecordKey(rs.getString(1), rs.getString(2)), Optional.of(heldOf(rs, 3)));
                    }
                }
            }
            c.commit();
            for (SealedRecordKey k : keys) {
                held.putIfAbsent(k, Optional.empty());
            }
        } catch (SQLException e) {
            rollbackQuietly();
            held.clear();
            throw failure("reading the versions of " + keys.size() + " records", e);
        }
    }

    private static final String HELD_COLUMNS = "record_version, deleted, source_topic, source_partition, source_offset";

    private static String qualified(String columns, String alias) {
        return alias + "." + columns.replace(", ", ", " + alias + ".");
    }

    /** What a row holds, from {@link #HELD_COLUMNS} starting at column {@code at}. */
    private static RecordVersions.Held heldOf(ResultSet rs, int at) throws SQLException {
        return new RecordVersions.Held(
                version(rs.getBytes(at)),
                rs.getBoolean(at + 1),
                rs.getString(at + 2),
                rs.getInt(at + 3),
                rs.getLong(at + 4));
    }

    /** A stored version; one that is not 16 bytes below 2^63 each half (a table writer's junk) counts as none. */
    private static RecordVersion version(byte @Nullable [] bytes) {
        if (bytes == null || bytes.length != RecordVersion.BYTES) {
            return RecordVersion.NONE;
        }
        try {
            return RecordVersion.read(bytes, 0);
        } catch (IllegalArgumentException e) {
            return RecordVersion.NONE;
        }
    }

    /** What is held for the key: set in this put, read in {@link #prepare}, or read now. */
    private RecordVersions.@Nullable Held held(SealedRecordKey key) {
        Optional<RecordVersions.Held> v = held.get(key);
        if (v != null) {
            return v.orElse(null);
        }
        try {
            Connection c = connection();
            RecordVersions.Held found = null;
            try (PreparedStatement ps = c.prepareStatement(
                    "SELECT " + HELD_COLUMNS + " FROM " + table + " WHERE tenant = ? AND embedding_id = ?")) {
                ps.setString(1, key.tenantId());
                ps.setString(2, key.embeddingId());
                try (ResultSet rs = ps.executeQuery()) {
                    if (rs.next()) {
                        found = heldOf(rs, 1);
                    }
                }
            }
            c.commit();
            held.put(key, Optional.ofNullable(found));
            return found;
        } catch (SQLException e) {
            rollbackQuietly();
            throw failure("reading the version of " + key, e);
        }
    }

    private static RecordVersions.Held heldAfter(StoredRecord r, boolean deleted) {
        return new RecordVersions.Held(
                r.header().recordVersion(), deleted, r.sourceTopic(), r.sourcePartition(), r.sourceOffset());
    }

    @Override
    public boolean upsert(StoredRecord r) {
        if (enforceVersions && RecordVersions.check(r, false, held(r.key())) == RecordVersions.Verdict.REDELIVERED) {
            return false;
        }
        if ((index || blind()) && r.unsealed().event().getVector().size() != config.vectorDimensions()) {
            throw new RefusedRecordException(
                    RefusedRecordException.Reason.NOT_STORABLE,
                    r.key() + " has "
                            + r.unsealed().event().getVector().size() + " dimensions; the vector column has "
                            + config.vectorDimensions()
                            + " (" + PostgresSinkConfig.VECTOR_DIMENSIONS + ")");
        }
        Pending p = new Pending(r, false);
        if (blind()) {
            float[] v = r.vector();
            if (config.cosine()) {
                try {
                    v = Dcpe.unit(v);
                } catch (IllegalArgumentException e) {
                    throw new RefusedRecordException(
                            RefusedRecordException.Reason.NOT_STORABLE,
                            r.key() + " is a zero vector, which has no cosine similarity to anything ("
                                    + PostgresSinkConfig.VECTOR_SIMILARITY + "=cosine)");
                }
            }
            p = blindCiphertext(r, v);
        }
        pending.remove(r.key());
        pending.put(r.key(), p);
        held.put(r.key(), Optional.of(heldAfter(r, false)));
        return true;
    }

    /**
     * The tenant's vector key, made on its first record. A key its KMS refuses, or one the table holds wrapped under
     * another KEK than the tenant's, refuses the record (KEY_FAILED); an unreachable KMS is retriable.
     */
    private VectorKey vectorKey(String tenant) {
        try {
            return java.util.Objects.requireNonNull(vectorKeys)
                    .get(tenant, true)
                    .orElseThrow();
        } catch (KmsUnavailableException e) {
            throw new StoreException("tenant " + tenant + "'s vector key: the KMS is unreachable", e, true);
        } catch (KmsException e) {
            throw new RefusedRecordException(
                    RefusedRecordException.Reason.KEY_FAILED,
                    "tenant " + tenant + "'s vector key does not open: " + e.getMessage());
        }
    }

    /**
     * The record's vector under its tenant's vector key. A key that a key event destroyed meanwhile (REVOKED on the
     * key-event thread) is asked for again, and the KMS decides; a vector that cannot be encrypted is refused.
     */
    private Pending blindCiphertext(StoredRecord r, float[] v) {
        for (int attempt = 0; ; attempt++) {
            VectorKey key = vectorKey(r.key().tenantId());
            try {
                return new Pending(r, false, Dcpe.encrypt(key, v), key.id());
            } catch (IllegalStateException destroyed) {
                if (attempt > 0) {
                    throw new RefusedRecordException(
                            RefusedRecordException.Reason.KEY_FAILED,
                            "tenant " + r.key().tenantId() + "'s vector key was destroyed while in use");
                }
            } catch (IllegalArgumentException e) {
                throw new RefusedRecordException(
                        RefusedRecordException.Reason.NOT_STORABLE, r.key() + ": " + e.getMessage());
            }
        }
    }

    @Override
    public void tenantChanged(TenantState state, boolean rotated) {
        VectorKeys keys = vectorKeys;
        if (keys == null) {
            return;
        }
        String tenant = state.tenantId();
        if (!state.isActive()) {
            keys.forget(tenant); // revoked or destroyed: the key leaves memory; only the KMS can give it back
            return;
        }
        if (rotated) {
            // Called on the key-event thread: a connection of its own, as the task's is the task thread's.
            try (Connection own = connect(config)) {
                PostgresVectorKeys storage = new PostgresVectorKeys(() -> own, table);
                java.util.Optional<io.embedseal.sinks.blind.WrappedVectorKey> stored = storage.read(tenant);
                // Only a newer version of the key the tenant is on now (a migration under way is the operator's).
                if (stored.isPresent()
                        && (state.kms() == null || stored.get().kek().provider().equals(state.kms()))
                        && (state.kekName() == null
                                || stored.get().kek().keyName().equals(state.kekName()))
                        && stored.get().kek().version() < state.kekVersion()) {
                    keys.rewrap(tenant, storage);
                }
            } catch (SQLException | RuntimeException e) {
                // The old wrap still opens while the old version is enabled; tried again on the next rotation.
                LOG.warn("could not re-wrap tenant {}'s vector key under its rotated KEK: {}", tenant, e.getMessage());
            }
        }
    }

    @Override
    public boolean delete(StoredRecord marker) {
        if (enforceVersions
                && RecordVersions.check(marker, true, held(marker.key())) == RecordVersions.Verdict.REDELIVERED) {
            return false;
        }
        pending.remove(marker.key());
        pending.put(marker.key(), new Pending(marker, true));
        held.put(marker.key(), Optional.of(heldAfter(marker, true)));
        return true;
    }

    @Override
    public void deleteUnchecked(SealedRecordKey key) {
        pending.remove(key);
        pending.put(key, null);
        held.put(key, Optional.empty());
    }

    @Override
    public void flush() {
        if (pending.isEmpty()) {
            held.clear();
            return;
        }
        List<Pending> upserts = new ArrayList<>();
        List<SealedRecordKey> deletes = new ArrayList<>();
        pending.forEach((k, p) -> {
            if (p == null) {
                deletes.add(k);
            } else {
                upserts.add(p);
            }
        });
        pending.clear();
        held.clear();
        try {
            Connection c = connection();
            if (!upserts.isEmpty()) {
                try (PreparedStatement ps = c.prepareStatement(upsertSql())) {
                    for (Pending p : upserts) {
                        bind(ps, p);
                        ps.addBatch();
                    }
                    ps.executeBatch();
                }
            }
            if (!deletes.isEmpty()) {
                try (PreparedStatement ps =
                        c.prepareStatement("DELETE FROM " + table + " WHERE tenant = ? AND embedding_id = ?")) {
                    for (SealedRecordKey k : deletes) {
                        ps.setString(1, k.tenantId());
                        ps.setString(2, k.embeddingId());
                        ps.addBatch();
                    }
                    ps.executeBatch();
                }
            }
            c.commit();
        } catch (SQLException e) {
            rollbackQuietly();
            throw failure("writing " + upserts.size() + " rows and deleting " + deletes.size(), e);
        }
    }

    private String upsertSql() {
        String cols = "tenant, embedding_id, kek_ref, dek_id, envelope, source_topic, source_partition, source_offset, "
                + "stored_at, record_version, deleted";
        String vals = "?, ?, ?, ?, ?, ?, ?, ?, now(), ?, ?";
        String set = "kek_ref = EXCLUDED.kek_ref, dek_id = EXCLUDED.dek_id, envelope = EXCLUDED.envelope, "
                + "source_topic = EXCLUDED.source_topic, source_partition = EXCLUDED.source_partition, "
                + "source_offset = EXCLUDED.source_offset, stored_at = EXCLUDED.stored_at, "
                + "record_version = EXCLUDED.record_version, deleted = EXCLUDED.deleted";
        if (index) {
            cols += ", model, embedding";
            vals += ", ?, ?::vector";
            set += ", model = EXCLUDED.model, embedding = EXCLUDED.embedding";
        }
        if (blind()) {
            cols += ", blind, blind_nonce, blind_key";
            vals += ", ?::vector, ?, ?";
            set += ", blind = EXCLUDED.blind, blind_nonce = EXCLUDED.blind_nonce, blind_key = EXCLUDED.blind_key";
        }
        // The database keeps the rule too, for a writer that raced this one (another task, a replay): bytea compares
        // byte by byte, which is how the 16-byte version orders.
        return "INSERT INTO " + table + " AS held (" + cols + ") VALUES (" + vals
                + ") ON CONFLICT (tenant, embedding_id) DO UPDATE SET " + set
                + (enforceVersions
                        ? " WHERE held.record_version < EXCLUDED.record_version OR (held.record_version = "
                                + "EXCLUDED.record_version AND ((NOT held.deleted AND EXCLUDED.deleted) OR "
                                + "held.record_version = '\\x00000000000000000000000000000000'::bytea))"
                        : "");
    }

    private void bind(PreparedStatement ps, Pending p) throws SQLException {
        StoredRecord r = p.record();
        ps.setString(1, r.key().tenantId());
        ps.setString(2, r.key().embeddingId());
        ps.setString(3, r.header().kek().toString());
        ps.setString(4, r.header().dekId().toString());
        ps.setBytes(5, r.envelope());
        ps.setString(6, r.sourceTopic());
        ps.setInt(7, r.sourcePartition());
        ps.setLong(8, r.sourceOffset());
        ps.setBytes(9, r.header().recordVersion().toBytes());
        ps.setBoolean(10, p.tombstone());
        if (index) {
            if (p.tombstone()) {
                ps.setNull(11, java.sql.Types.VARCHAR);
                ps.setNull(12, java.sql.Types.VARCHAR);
            } else {
                ps.setString(11, r.unsealed().event().getModel());
                ps.setString(12, vectorLiteral(r.vector()));
            }
        }
        if (blind()) {
            Dcpe.Ciphertext c = p.blind();
            if (p.tombstone() || c == null) {
                ps.setNull(11, java.sql.Types.VARCHAR);
                ps.setNull(12, java.sql.Types.BINARY);
                ps.setNull(13, java.sql.Types.BINARY);
            } else {
                ps.setString(11, vectorLiteral(c.vector()));
                ps.setBytes(12, c.nonce());
                ps.setBytes(13, p.blindKey());
            }
        }
    }

    /** pgvector's text form: {@code [1.5,-2.0,...]}. */
    public static String vectorLiteral(float[] v) {
        StringBuilder b = new StringBuilder(v.length * 12 + 2).append('[');
        for (int i = 0; i < v.length; i++) {
            if (i > 0) {
                b.append(',');
            }
            b.append(v[i]);
        }
        return b.append(']').toString();
    }

    @Override
    public void commit() {
        // Each put's rows are committed in flush(); nothing is pending between puts.
    }

    @Override
    public Optional<ShredRecord> shredRecord(String tenantId) {
        try {
            Connection c = connection();
            Optional<ShredRecord> out = findShred(c, tenantId);
            c.commit();
            return out;
        } catch (SQLException e) {
            rollbackQuietly();
            throw failure("reading the shred record of tenant " + tenantId, e);
        }
    }

    /** This task's shred of the tenant, read in the caller's transaction. */
    private Optional<ShredRecord> findShred(Connection c, String tenantId) throws SQLException {
        try (PreparedStatement ps =
                c.prepareStatement("SELECT deleted_rows, deleted_vectors, kept_sealed_rows, shredded_at, "
                        + "receipted_at FROM " + shreds + " WHERE tenant = ? AND connector = ? AND task = ?")) {
            ps.setString(1, tenantId);
            ps.setString(2, connector);
            ps.setInt(3, task);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return Optional.empty();
                }
                Map<String, Long> deleted = new LinkedHashMap<>();
                deleted.put("rows", rs.getLong(1));
                deleted.put("vectors", rs.getLong(2));
                Map<String, Long> kept = rs.getLong(3) > 0 ? Map.of("sealedRows", rs.getLong(3)) : Map.of();
                return Optional.of(new ShredRecord(
                        tenantId, deleted, kept, rs.getTimestamp(4).toInstant(), rs.getTimestamp(5) != null));
            }
        }
    }

    @Override
    public ShredRecord shred(TenantState destroyed) {
        String tenant = destroyed.tenantId();
        pending.keySet().removeIf(k -> k.tenantId().equals(tenant)); // buffered writes of the tenant die with it
        held.keySet().removeIf(k -> k.tenantId().equals(tenant));
        try {
            Connection c = connection();
            try (PreparedStatement lock = c.prepareStatement("SELECT pg_advisory_xact_lock(hashtext(?))")) {
                lock.setString(1, "embedseal-shred:" + table + ":" + tenant);
                lock.execute();
            }
            Optional<ShredRecord> done = findShred(c, tenant);
            if (done.isPresent()) {
                c.commit();
                return done.get();
            }
            long rows = 0;
            long vectors = 0;
            long kept = 0;
            if (config.keepSealedRows()) {
                if (index) {
                    try (PreparedStatement ps = c.prepareStatement("UPDATE " + table
                            + " SET embedding = NULL, model = NULL " + "WHERE tenant = ? AND embedding IS NOT NULL")) {
                        ps.setString(1, tenant);
                        vectors = ps.executeUpdate();
                    }
                }
                if (blind()) {
                    try (PreparedStatement ps = c.prepareStatement("UPDATE " + table + " SET blind = NULL, "
                            + "blind_nonce = NULL, blind_key = NULL WHERE tenant = ? AND blind IS NOT NULL")) {
                        ps.setString(1, tenant);
                        vectors = ps.executeUpdate();
                    }
                }
                try (PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM " + table + " WHERE tenant = ?")) {
                    ps.setString(1, tenant);
                    try (ResultSet rs = ps.executeQuery()) {
                        rs.next();
                        kept = rs.getLong(1);
                    }
                }
            } else {
                if (index || blind()) {
                    try (PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM " + table
                            + " WHERE tenant = ? " + "AND " + (index ? "embedding" : "blind") + " IS NOT NULL")) {
                        ps.setString(1, tenant);
                        try (ResultSet rs = ps.executeQuery()) {
                            rs.next();
                            vectors = rs.getLong(1);
                        }
                    }
                }
                try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + table + " WHERE tenant = ?")) {
                    ps.setString(1, tenant);
                    rows = ps.executeUpdate();
                }
            }
            if (blind()) {
                // Its vector key goes too (wrapped under the destroyed KEK, it would open nothing anyway).
                try (PreparedStatement ps =
                        c.prepareStatement("DELETE FROM " + table + "_vector_keys WHERE tenant = ?")) {
                    ps.setString(1, tenant);
                    ps.executeUpdate();
                }
                java.util.Objects.requireNonNull(vectorKeys).forget(tenant);
            }
            Instant now = Instant.now().truncatedTo(java.time.temporal.ChronoUnit.MICROS); // what timestamptz keeps
            try (PreparedStatement ps =
                    c.prepareStatement("INSERT INTO " + shreds + " (tenant, connector, task, deleted_rows, "
                            + "deleted_vectors, kept_sealed_rows, shredded_at) VALUES (?, ?, ?, ?, ?, ?, ?)")) {
                ps.setString(1, tenant);
                ps.setString(2, connector);
                ps.setInt(3, task);
                ps.setLong(4, rows);
                ps.setLong(5, vectors);
                ps.setLong(6, kept);
                ps.setTimestamp(7, Timestamp.from(now));
                ps.executeUpdate();
            }
            c.commit();
            Map<String, Long> deleted = new LinkedHashMap<>();
            deleted.put("rows", rows);
            deleted.put("vectors", vectors);
            return new ShredRecord(tenant, deleted, kept > 0 ? Map.of("sealedRows", kept) : Map.of(), now, false);
        } catch (SQLException e) {
            rollbackQuietly();
            throw failure("shredding tenant " + tenant, e);
        }
    }

    @Override
    public void markReceipted(String tenantId) {
        try {
            Connection c = connection();
            try (PreparedStatement ps = c.prepareStatement("UPDATE " + shreds + " SET receipted_at = now() "
                    + "WHERE tenant = ? AND connector = ? AND task = ?")) {
                ps.setString(1, tenantId);
                ps.setString(2, connector);
                ps.setInt(3, task);
                ps.executeUpdate();
            }
            c.commit();
        } catch (SQLException e) {
            rollbackQuietly();
            throw failure("recording the receipt of tenant " + tenantId, e);
        }
    }

    /** The connection, opened again after a connection failure (which {@link #failure} drops). */
    private Connection connection() throws SQLException {
        if (connection == null || connection.isClosed()) {
            closeQuietly(connection);
            connection = null;
            try {
                connection = connect(config);
            } catch (StoreException e) {
                throw new SQLException(e.getMessage(), "08001", e);
            }
        }
        return connection;
    }

    /**
     * A failure Connect can act on: connection trouble, deadlocks and serialization failures are retriable.
     * In index mode the server's message is left out, as it could quote a vector.
     */
    private StoreException failure(String what, SQLException e) {
        String state = e.getSQLState() == null ? "?" : e.getSQLState();
        boolean retriable =
                state.startsWith("08") || state.startsWith("40") || state.startsWith("57P") || state.startsWith("53");
        if (state.startsWith("08") || state.startsWith("57P")) {
            closeQuietly(connection); // broken or terminated by the server: reconnect on the next attempt
            connection = null;
        }
        String message = "PostgreSQL failed " + what + " in " + table + " (SQLState " + state + ")";
        if (index || blind()) {
            return new StoreException(message, null, retriable);
        }
        return new StoreException(message + ": " + e.getMessage(), e, retriable);
    }

    private void rollbackQuietly() {
        try {
            if (connection != null && !connection.isClosed()) {
                connection.rollback();
            }
        } catch (SQLException ignored) {
            // the connection is replaced on the next use if it is broken
        }
    }

    private static void closeQuietly(@Nullable Connection c) {
        if (c == null) {
            return;
        }
        try {
            c.close();
        } catch (SQLException ignored) {
            // closing
        }
    }

    @Override
    public void close() {
        if (vectorKeys != null) {
            vectorKeys.close();
        }
        pending.clear();
        held.clear();
        rollbackQuietly();
        closeQuietly(connection);
        connection = null;
    }
}
