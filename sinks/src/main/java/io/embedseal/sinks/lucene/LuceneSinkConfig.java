package io.embedseal.sinks.lucene;

import io.embedseal.sinks.EmbedsealSinkConfig;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigDef.ValidString;
import org.apache.lucene.index.VectorSimilarityFunction;

/** Settings of the Lucene sink: the shared embedseal settings plus the index's. One definition for connector and task. */
public final class LuceneSinkConfig extends EmbedsealSinkConfig {

    public static final String DIR = "lucene.dir";
    public static final String SIMILARITY = "lucene.similarity";
    public static final String MAX_CONN = "lucene.hnsw.max-conn";
    public static final String BEAM_WIDTH = "lucene.hnsw.beam-width";
    public static final String MAX_OPEN_WRITERS = "lucene.max-open-writers";
    public static final String RAM_BUFFER_MB = "lucene.ram-buffer-mb";
    public static final String ENCRYPTION = LuceneIndexes.SETTING;
    public static final String CACHE_MB = "lucene.encryption.cache-mb";
    public static final String INDEX_THREADS = "lucene.index-threads";
    public static final String COMMIT_INTERVAL_MS = "lucene.commit-interval-ms";
    public static final String MODE = "lucene.mode";
    public static final String BLIND_BETA = "lucene.blind.beta";

    public static final ConfigDef CONFIG_DEF = withCommon(new ConfigDef()
            .define(
                    DIR,
                    ConfigDef.Type.STRING,
                    ConfigDef.NO_DEFAULT_VALUE,
                    new ConfigDef.NonEmptyString(),
                    ConfigDef.Importance.HIGH,
                    "The directory holding one Lucene index per tenant (<dir>/<tenant>). Only this connector may write it.")
            .define(
                    SIMILARITY,
                    ConfigDef.Type.STRING,
                    "cosine",
                    ValidString.in("cosine", "dot_product", "euclidean", "maximum_inner_product"),
                    ConfigDef.Importance.MEDIUM,
                    "The vector similarity of new indexes. dot_product needs unit-length vectors. An existing index "
                            + "keeps the similarity it was created with.")
            .define(
                    MAX_CONN,
                    ConfigDef.Type.INT,
                    16,
                    ConfigDef.Range.between(2, 512),
                    ConfigDef.Importance.LOW,
                    "HNSW: neighbours per node (M).")
            .define(
                    BEAM_WIDTH,
                    ConfigDef.Type.INT,
                    32,
                    ConfigDef.Range.between(1, 3200),
                    ConfigDef.Importance.LOW,
                    "HNSW: candidates considered while building the graph (efConstruction). 32 builds 2.6 times as "
                            + "fast as Lucene's 100 and keeps recall@10 at 0.99 with the search default of 800 "
                            + "candidates (docs/sinks.md); raise it for more recall at fewer search candidates.")
            .define(
                    COMMIT_INTERVAL_MS,
                    ConfigDef.Type.LONG,
                    LuceneVectorStore.Options.DEFAULT_COMMIT_INTERVAL_MS,
                    ConfigDef.Range.atLeast(0),
                    ConfigDef.Importance.LOW,
                    "The least time between two index commits while records keep coming; Connect's offset commits "
                            + "in between commit only what the last index commit made durable (the rest is redelivered "
                            + "after a crash, and upserts are idempotent). Each commit flushes a segment per tenant, and "
                            + "HNSW merges of small segments cost about as much as building them. When no record arrived "
                            + "since the last offset commit, the index commits at once. Records become searchable at a "
                            + "commit. 0 commits at every offset commit.")
            .define(
                    INDEX_THREADS,
                    ConfigDef.Type.INT,
                    0,
                    ConfigDef.Range.between(0, 64),
                    ConfigDef.Importance.LOW,
                    "Threads that add a batch's documents to the indexes in parallel (ids of one tenant or several; "
                            + "one id always on the same thread, so its operations keep their order). 0 (the default): one "
                            + "per core, at most four.")
            .define(
                    MAX_OPEN_WRITERS,
                    ConfigDef.Type.INT,
                    64,
                    ConfigDef.Range.atLeast(1),
                    ConfigDef.Importance.LOW,
                    "Tenant indexes kept open for writing at once; the least recently used is committed and closed beyond this.")
            .define(
                    RAM_BUFFER_MB,
                    ConfigDef.Type.DOUBLE,
                    16.0,
                    ConfigDef.Range.between(1.0, 2048.0),
                    ConfigDef.Importance.LOW,
                    "Lucene's indexing buffer per open tenant index, in MB.")
            .define(
                    ENCRYPTION,
                    ConfigDef.Type.STRING,
                    "tenant-key",
                    ValidString.in("tenant-key", "none"),
                    ConfigDef.Importance.HIGH,
                    "tenant-key: every file of a tenant's index is encrypted (AES-256-GCM blocks) under an index key of "
                            + "the tenant's own, stored in the index directory only wrapped by the tenant's KEK, so a "
                            + "copy of the disk or a backup holds no vector, and destroying the KEK makes every copy "
                            + "unreadable. none: plain Lucene files, readable by whoever reads the disk (for comparison, "
                            + "or an index that holds nothing secret). An index keeps the kind it was written with; "
                            + "the other kind refuses to open it.")
            .define(
                    MODE,
                    ConfigDef.Type.STRING,
                    "index",
                    ValidString.in("index", "blind"),
                    ConfigDef.Importance.MEDIUM,
                    "index: the vectors are indexed as they are (in files encrypted under the tenant's index key, "
                            + "unless lucene.encryption=none). blind: each vector is indexed encrypted under the "
                            + "tenant's vector key (scale-and-perturb DCPE, Euclidean), beside its sealed envelope, so "
                            + "whoever serves the index, even with lucene.encryption=none, sees no vector and no query; "
                            + "it learns approximate distances (docs/blind-index.md). Needs lucene.similarity cosine or "
                            + "euclidean; search with embedseal search --mode blind.")
            .define(
                    BLIND_BETA,
                    ConfigDef.Type.DOUBLE,
                    1.0,
                    ConfigDef.Range.between(0.01, 64.0),
                    ConfigDef.Importance.LOW,
                    "Blind mode: the approximation factor beta of new vector keys (docs/blind-index.md).")
            .define(
                    CACHE_MB,
                    ConfigDef.Type.LONG,
                    256L,
                    ConfigDef.Range.between(0, 1L << 20),
                    ConfigDef.Importance.LOW,
                    "Decrypted index blocks kept in memory, all tenants together, in MB (least recently used out "
                            + "first; 0 decrypts on every read). Searches and version lookups read the same blocks "
                            + "again and again. A tenant's blocks are dropped when its key is."));

    public LuceneSinkConfig(Map<?, ?> props) {
        super(CONFIG_DEF, props);
        if (blind()
                && !(getString(SIMILARITY).equals("cosine")
                        || getString(SIMILARITY).equals("euclidean"))) {
            throw new io.embedseal.sinks.InvalidSettingException(
                    SIMILARITY,
                    getString(SIMILARITY),
                    "lucene.mode=blind preserves Euclidean distances only: use cosine (vectors are normalised "
                            + "first) or euclidean");
        }
    }

    public boolean blind() {
        return getString(MODE).equals("blind");
    }

    public double blindBeta() {
        return getDouble(BLIND_BETA);
    }

    public Path dir() {
        return Path.of(getString(DIR));
    }

    public VectorSimilarityFunction similarity() {
        return similarity(getString(SIMILARITY));
    }

    static VectorSimilarityFunction similarity(String name) {
        return VectorSimilarityFunction.valueOf(name.toUpperCase(Locale.ROOT));
    }

    public int maxConn() {
        return getInt(MAX_CONN);
    }

    public int beamWidth() {
        return getInt(BEAM_WIDTH);
    }

    public int maxOpenWriters() {
        return getInt(MAX_OPEN_WRITERS);
    }

    public long commitIntervalMs() {
        return getLong(COMMIT_INTERVAL_MS);
    }

    public int indexThreads() {
        int n = getInt(INDEX_THREADS);
        return n == 0 ? LuceneVectorStore.Options.DEFAULT_INDEX_THREADS : n;
    }

    public boolean encrypted() {
        return !"none".equals(getString(ENCRYPTION));
    }

    public long cacheBytes() {
        return getLong(CACHE_MB) << 20;
    }

    public double ramBufferMb() {
        return getDouble(RAM_BUFFER_MB);
    }
}
