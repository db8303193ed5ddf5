package io.embedseal.sinks.postgres;

import io.embedseal.sinks.EmbedsealSinkConfig;
import io.embedseal.sinks.InvalidSettingException;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigDef.ValidString;
import org.apache.kafka.common.config.types.Password;
import org.jspecify.annotations.Nullable;

/** Settings of the PostgreSQL sink: the shared embedseal settings plus the database's. One definition for connector and task. */
public final class PostgresSinkConfig extends EmbedsealSinkConfig {

    public static final String URL = "postgres.url";
    public static final String USER = "postgres.user";
    public static final String PASSWORD = "postgres.password";
    public static final String TABLE = "postgres.table";
    public static final String MODE = "postgres.mode";
    public static final String VECTOR_DIMENSIONS = "postgres.vector.dimensions";
    public static final String VECTOR_SIMILARITY = "postgres.vector.similarity";
    public static final String KEEP_SEALED = "postgres.destroyed.keep-sealed-rows";
    public static final String BLIND_BETA = "postgres.blind.beta";

    /** Where vectors go. */
    public enum Mode {
        /** Envelopes only (bytea) with non-secret columns; nothing is unsealed. Works on any PostgreSQL. */
        SEALED,
        /** Also the plaintext vector in a pgvector column with an HNSW index; needs the vector extension. */
        INDEX,
        /**
         * Also the vector encrypted under the tenant's vector key with distance-comparison-preserving encryption, in a
         * pgvector column with an HNSW index: the database indexes ciphertexts and never sees a vector or a query.
         */
        BLIND,
        /** INDEX where the vector extension is available, otherwise SEALED; the choice is logged at start. */
        AUTO
    }

    static final Pattern TABLE_NAME = Pattern.compile("([a-z_][a-z0-9_]{0,62}\\.)?[a-z_][a-z0-9_]{0,50}");

    public static final ConfigDef CONFIG_DEF = withCommon(new ConfigDef()
            .define(
                    URL,
                    ConfigDef.Type.STRING,
                    ConfigDef.NO_DEFAULT_VALUE,
                    new ConfigDef.NonEmptyString(),
                    ConfigDef.Importance.HIGH,
                    "JDBC URL, e.g. jdbc:postgresql://db:5432/vectors (TLS settings go in the URL: sslmode=verify-full ...).")
            .define(USER, ConfigDef.Type.STRING, null, ConfigDef.Importance.HIGH, "Database user.")
            .define(
                    PASSWORD,
                    ConfigDef.Type.PASSWORD,
                    null,
                    ConfigDef.Importance.HIGH,
                    "Database password; use a config provider (e.g. ${file:/secrets/pg:password}) rather than a literal.")
            .define(
                    TABLE,
                    ConfigDef.Type.STRING,
                    "embedseal_embeddings",
                    ConfigDef.Importance.MEDIUM,
                    "Table for the embeddings (created if missing), optionally schema-qualified; lower-case letters, "
                            + "digits and underscores. Shreds are recorded in <table>_shreds.")
            .define(
                    MODE,
                    ConfigDef.Type.STRING,
                    "sealed",
                    ValidString.in("sealed", "index", "blind", "auto"),
                    ConfigDef.Importance.HIGH,
                    "sealed: store envelopes only; index: also unseal through the tenant's KMS and store the vector "
                            + "in a pgvector column with an HNSW index (needs the vector extension); blind: also store "
                            + "the vector encrypted under the tenant's vector key (scale-and-perturb DCPE) in a pgvector "
                            + "column with an HNSW index, so the database never sees a vector (it learns approximate "
                            + "distances: docs/blind-index.md); auto: index if the extension is available, else sealed.")
            .define(
                    VECTOR_DIMENSIONS,
                    ConfigDef.Type.INT,
                    0,
                    ConfigDef.Range.between(0, 2000),
                    ConfigDef.Importance.MEDIUM,
                    "Dimensions of the vector column (index and blind modes; pgvector's HNSW index takes at most 2000). "
                            + "Records of another dimension are refused.")
            .define(
                    VECTOR_SIMILARITY,
                    ConfigDef.Type.STRING,
                    "cosine",
                    ValidString.in("cosine", "dot_product", "euclidean"),
                    ConfigDef.Importance.LOW,
                    "Operator class of the HNSW index: vector_cosine_ops, vector_ip_ops or vector_l2_ops.")
            .define(
                    BLIND_BETA,
                    ConfigDef.Type.DOUBLE,
                    1.0,
                    ConfigDef.Range.between(0.01, 64.0),
                    ConfigDef.Importance.MEDIUM,
                    "Blind mode: the approximation factor beta of new vector keys (each key keeps the beta it was "
                            + "made with). The perturbation's radius is beta/4 of the (unit, for cosine) vectors' scale: "
                            + "larger hides distances better and costs recall before re-ranking.")
            .define(
                    KEEP_SEALED,
                    ConfigDef.Type.BOOLEAN,
                    false,
                    ConfigDef.Importance.LOW,
                    "On DESTROYED, keep the tenant's sealed rows (unreadable without the key) and delete only plaintext "
                            + "vectors. By default every row of the tenant is deleted."));

    public PostgresSinkConfig(Map<?, ?> props) {
        super(CONFIG_DEF, props);
        if (!TABLE_NAME.matcher(table()).matches()) {
            throw new InvalidSettingException(
                    TABLE, table(), "use lower-case letters, digits and underscores, optionally schema.table");
        }
        if ((mode() == Mode.INDEX || mode() == Mode.BLIND) && vectorDimensions() == 0) {
            throw new InvalidSettingException(
                    VECTOR_DIMENSIONS,
                    0,
                    mode().name().toLowerCase(Locale.ROOT) + " mode needs the vector column's dimensions (1 to 2000)");
        }
        if (mode() == Mode.BLIND && getString(VECTOR_SIMILARITY).equals("dot_product")) {
            throw new InvalidSettingException(
                    VECTOR_SIMILARITY,
                    "dot_product",
                    "blind mode preserves Euclidean distances only: use cosine (vectors are normalised first) or "
                            + "euclidean");
        }
    }

    public String url() {
        return getString(URL);
    }

    public String user() {
        return getString(USER);
    }

    /** The password, or null. */
    public @Nullable String password() {
        Password p = getPassword(PASSWORD);
        return p == null ? null : p.value();
    }

    public String table() {
        return getString(TABLE);
    }

    public Mode mode() {
        return Mode.valueOf(getString(MODE).toUpperCase(Locale.ROOT));
    }

    public int vectorDimensions() {
        return getInt(VECTOR_DIMENSIONS);
    }

    public String vectorOps() {
        return switch (getString(VECTOR_SIMILARITY)) {
            case "dot_product" -> "vector_ip_ops";
            case "euclidean" -> "vector_l2_ops";
            default -> "vector_cosine_ops";
        };
    }

    /** Whether vectors are compared by cosine (blind mode normalises them before encrypting). */
    public boolean cosine() {
        return getString(VECTOR_SIMILARITY).equals("cosine");
    }

    public double blindBeta() {
        return getDouble(BLIND_BETA);
    }

    public boolean keepSealedRows() {
        return getBoolean(KEEP_SEALED);
    }
}
