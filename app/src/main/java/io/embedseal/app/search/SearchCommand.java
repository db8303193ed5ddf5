package io.embedseal.app.search;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.embedseal.app.ops.ClusterOptions;
import io.embedseal.control.KeyEventFollower;
import io.embedseal.control.KeyEventGate;
import io.embedseal.control.KeyEventTrust;
import io.embedseal.keyring.Keyring;
import io.embedseal.keyring.KeyringSettings;
import io.embedseal.keyring.KmsProviders;
import io.embedseal.keyring.kms.KmsException;
import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.keyring.tenant.TenantDirectory;
import io.embedseal.keyring.tenant.TenantState;
import io.embedseal.sinks.lucene.LuceneSearch;
import io.embedseal.sinks.postgres.PostgresBlindSearch;
import io.embedseal.sinks.search.QueryVectors;
import io.embedseal.sinks.search.SearchHit;
import io.embedseal.sinks.search.SearchRefusedException;
import io.embedseal.sinks.search.TenantGate;
import io.embedseal.topology.TopicNames;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.lucene.index.VectorSimilarityFunction;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
        name = "search",
        mixinStandardHelpOptions = true,
        description = {
            "Finds a tenant's nearest embeddings under the tenant's key: in the Lucene sink's index, or by "
                    + "unsealing the PostgreSQL sink's sealed rows in memory (exact top k).",
            "The tenant's key must allow it: a REVOKED or DESTROYED tenant (from the key-event topic, when "
                    + "--bootstrap-servers or --config names the cluster) or a key the KMS refuses gets a refusal "
                    + "(exit code 3), never an empty result."
        },
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {
            "0:results printed",
            "1:the search failed (store or KMS unreachable, ...)",
            "2:invalid usage",
            "3:refused: the tenant's key does not allow it (revoked, destroyed, denied)"
        })
public final class SearchCommand implements Callable<Integer> {

    /** Exit code of a refusal. */
    public static final int REFUSED = 3;

    @Option(names = "--tenant", required = true, description = "The tenant whose data to search.")
    String tenant;

    @Option(
            names = "--query",
            required = true,
            paramLabel = "FILE|VECTOR",
            description =
                    "The query vector: a file of numbers (a JSON array works), or the numbers inline, comma-separated.")
    String query;

    @Option(names = "--k", defaultValue = "10", description = "How many results (default: ${DEFAULT-VALUE}).")
    int k;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Where where;

    static final class Where {
        @Option(names = "--lucene-dir", paramLabel = "DIR", description = "The Lucene sink's lucene.dir.")
        Path luceneDir;

        @Option(names = "--postgres-url", paramLabel = "JDBC_URL", description = "The PostgreSQL sink's postgres.url.")
        String postgresUrl;
    }

    @Option(
            names = "--candidates",
            description = "Lucene: HNSW candidates to explore; more is slower and closer to exact (default: "
                    + LuceneSearch.DEFAULT_CANDIDATES + "). Blind mode: k', the nearest ciphertexts to unseal and "
                    + "re-rank exactly, at least --k (default: " + BLIND_CANDIDATES + ").")
    Integer candidates;

    /** Blind mode's default k′. */
    static final int BLIND_CANDIDATES = 50;

    @Option(
            names = "--mode",
            paramLabel = "sealed|index|blind",
            description = "PostgreSQL: sealed (default) unseals every row of the tenant and scores it. Lucene: index "
                    + "(default) searches the index's vectors. Either: blind asks the index over the tenant's "
                    + "encrypted vectors (postgres.mode=blind, lucene.mode=blind) for the --candidates nearest, then "
                    + "unseals and re-ranks them by --similarity.")
    String mode;

    @Option(
            names = "--envelope-purpose",
            defaultValue = io.embedseal.serdes.envelope.Sealer.DEFAULT_PURPOSE,
            description = "PostgreSQL: the purpose the stored envelopes were sealed for, the sink's "
                    + "embedseal.envelope.purpose (default: ${DEFAULT-VALUE}).")
    String purpose;

    @Option(names = "--exact", description = "Lucene: compare with every vector instead of the HNSW graph.")
    boolean exact;

    @Option(
            names = "--lucene-encryption",
            defaultValue = "tenant-key",
            paramLabel = "tenant-key|none",
            description = "Lucene: the sink's lucene.encryption. tenant-key (default) unwraps the tenant's index key "
                    + "through its KMS; none reads plain files.")
    String luceneEncryption;

    @Option(names = "--postgres-user", description = "PostgreSQL user.")
    String postgresUser;

    @Option(
            names = "--postgres-password-env",
            defaultValue = "PGPASSWORD",
            paramLabel = "VAR",
            description = "Environment variable holding the PostgreSQL password (default: ${DEFAULT-VALUE}).")
    String postgresPasswordEnv;

    @Option(
            names = "--postgres-table",
            defaultValue = "embedseal_embeddings",
            description = "The sink's postgres.table (default: ${DEFAULT-VALUE}).")
    String postgresTable;

    @Option(
            names = "--similarity",
            defaultValue = "cosine",
            description = "PostgreSQL scan and blind mode: cosine, dot_product, euclidean or "
                    + "maximum_inner_product (default: ${DEFAULT-VALUE}; blind mode: cosine or euclidean, as the "
                    + "sink's); Lucene index mode uses its index's own.")
    String similarity;

    @CommandLine.Mixin
    ClusterOptions clusterOptions = new ClusterOptions();

    @Option(
            names = "--key-events-topic",
            description =
                    "The key-event topic (default: the configuration's, or " + TopicNames.DEFAULT_KEY_EVENTS + ").")
    String keyEventsTopic;

    @Option(names = "--json", description = "Print one JSON object.")
    boolean json;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws InterruptedException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        float[] vector;
        KeyringSettings keyringSettings;
        Map<String, Object> clients = new HashMap<>();
        String topic;
        Search.Store store;
        try {
            if (k < 1 || k > 10_000) {
                throw new IllegalArgumentException("--k must be between 1 and 10000, got " + k);
            }
            vector = QueryVectors.parse(query);
            ClusterOptions.Cluster cluster = clusterOptions.resolveOptionalCluster();
            keyringSettings = cluster.keyringSettings();
            clients.putAll(cluster.clientProps());
            topic = keyEventsTopic != null ? keyEventsTopic : cluster.topics().keyEvents();
            keyringSettings = keyringSettings.with(Map.of("kms.create-missing-keys", "false"));
            boolean blind = blindMode(mode, where.luceneDir != null);
            if (blind && candidates != null && (candidates < k || candidates > PostgresBlindSearch.MAX_CANDIDATES)) {
                throw new IllegalArgumentException("--candidates must be between --k (" + k + ") and "
                        + PostgresBlindSearch.MAX_CANDIDATES + " in blind mode, got " + candidates);
            }
            store = where.luceneDir != null
                    ? new Search.LuceneStore(
                            where.luceneDir,
                            candidates == null ? LuceneSearch.DEFAULT_CANDIDATES : candidates,
                            exact,
                            luceneEncrypted(luceneEncryption),
                            blind ? Math.max(k, candidates == null ? BLIND_CANDIDATES : candidates) : 0,
                            similarity(similarity),
                            io.embedseal.serdes.envelope.Sealer.requirePurpose(purpose))
                    : new Search.PostgresStore(
                            where.postgresUrl,
                            postgresUser,
                            System.getenv(postgresPasswordEnv),
                            postgresTable,
                            similarity(similarity),
                            io.embedseal.serdes.envelope.Sealer.requirePurpose(purpose),
                            blind ? Math.max(k, candidates == null ? BLIND_CANDIDATES : candidates) : 0);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }

        TenantDirectory directory = new TenantDirectory(keyringSettings.naming());
        TenantState state = null;
        boolean eventsRead = clients.containsKey(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG);
        if (eventsRead) {
            KeyEventGate gate;
            try (KmsProvider provider = KmsProviders.create(keyringSettings)) {
                gate = KeyEventTrust.gate(keyringSettings, directory, provider::signingKeys);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
            }
            try (KeyEventFollower follower = KeyEventFollower.start(clients, topic, gate, d -> {}, "search")) {
                if (!follower.awaitCaughtUp(Duration.ofSeconds(30))) {
                    err.println("embedseal search: could not read " + topic
                            + " within 30 s; refusing to search without the tenant's state");
                    return 1;
                }
            }
            state = directory.get(tenant);
        } else if (!json) {
            err.println(
                    "note: no Kafka cluster given, so the tenant's key events were not checked; only its KMS was asked");
        }

        Keyring keyring;
        try {
            keyring = Keyring.builder(KmsProviders.decorate(
                            KmsProviders.create(keyringSettings), keyringSettings, null, null, Clock.systemUTC()))
                    .naming(directory)
                    .policy(keyringSettings.dekPolicy())
                    .build();
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        long started = System.nanoTime();
        boolean[] progressShown = {false};
        try {
            if (eventsRead) {
                TenantGate.checkRegistered(tenant, state);
            }
            Search.Outcome outcome = Search.run(tenant, vector, k, store, keyring, state, line -> {
                if (!json) {
                    err.print("\r" + line);
                    err.flush();
                    progressShown[0] = true;
                }
            });
            if (progressShown[0]) {
                err.println();
            }
            print(out, outcome, (System.nanoTime() - started) / 1e6);
            return 0;
        } catch (SearchRefusedException e) {
            if (progressShown[0]) {
                err.println();
            }
            if (json) {
                ObjectNode n = new ObjectMapper().createObjectNode();
                n.put("tenant", tenant).put("refused", e.status()).put("reason", e.getMessage());
                out.println(n);
            }
            err.println("embedseal search: refused: " + e.getMessage());
            return REFUSED;
        } catch (IllegalArgumentException e) {
            err.println("embedseal search: " + e.getMessage());
            return 1;
        } catch (KmsException | SQLException | IllegalStateException | java.io.UncheckedIOException e) {
            err.println("embedseal search: failed: " + e.getMessage());
            return 1;
        } finally {
            keyring.kms().close();
        }
    }

    static VectorSimilarityFunction similarity(String name) {
        try {
            return VectorSimilarityFunction.valueOf(name.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(
                    "--similarity must be cosine, dot_product, euclidean or maximum_inner_product, got '" + name + "'");
        }
    }

    private void print(PrintWriter out, Search.Outcome o, double millis) {
        if (json) {
            ObjectMapper m = new ObjectMapper();
            ObjectNode n = m.createObjectNode();
            n.put("tenant", o.tenantId()).put("where", o.where()).put("k", k).put("millis", Math.round(millis));
            ArrayNode hits = n.putArray("hits");
            for (SearchHit h : o.hits()) {
                hits.addObject()
                        .put("id", h.embeddingId())
                        .put("score", h.score())
                        .put("model", h.model());
            }
            out.println(n);
        } else {
            out.printf(
                    "tenant %s: %d nearest in %s, %.0f ms%n",
                    o.tenantId(), o.hits().size(), o.where(), millis);
            out.printf("%4s  %-40s  %-9s  %s%n", "#", "embedding id", "score", "model");
            int i = 1;
            for (SearchHit h : o.hits()) {
                out.printf("%4d  %-40s  %9.6f  %s%n", i++, h.embeddingId(), h.score(), h.model());
            }
        }
        out.flush();
    }

    private static boolean blindMode(String mode, boolean lucene) {
        if (mode == null || (mode.equals("sealed") && !lucene) || (mode.equals("index") && lucene)) {
            return false;
        }
        if (mode.equals("blind")) {
            return true;
        }
        throw new IllegalArgumentException("--mode must be sealed or blind with --postgres-url (the sink's "
                + "postgres.mode), index or blind with --lucene-dir (lucene.mode); got " + mode);
    }

    private static boolean luceneEncrypted(String setting) {
        return switch (setting) {
            case "tenant-key" -> true;
            case "none" -> false;
            default ->
                throw new IllegalArgumentException(
                        "--lucene-encryption must be tenant-key or none (the sink's lucene.encryption), got "
                                + setting);
        };
    }
}
