package io.embedseal.sinks;

import io.embedseal.keyring.KekResolver;
import io.embedseal.keyring.KmsProviders;
import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.keyring.kms.local.LocalKms;
import io.embedseal.sinks.lucene.LuceneIndexes;
import io.embedseal.sinks.lucene.LuceneSearch;
import io.embedseal.sinks.lucene.LuceneSinkConfig;
import io.embedseal.sinks.lucene.encryption.IndexKeyFile;
import io.embedseal.sinks.search.SearchHit;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * How tests read what a Lucene sink indexed: each time through a fresh {@link LuceneIndexes} over the KMS the
 * connector was configured with (registered by the fixture that configured it), so every read unwraps the tenant's
 * index key as {@code embedseal search} would. The KEK name is taken from the key file: the sink itself checks it
 * against the tenant's registration.
 */
final class TestIndexes {

    private static final Map<Path, Function<Path, LuceneIndexes>> OPENERS = new ConcurrentHashMap<>();

    private TestIndexes() {}

    private static KekResolver naming(Path root) {
        return new KekResolver() {
            @Override
            public String kekNameFor(String tenant) {
                try {
                    return IndexKeyFile.read(root.resolve(tenant))
                            .map(c -> c.currentEntry().kek().keyName())
                            .orElse("tenant-" + tenant);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }

            @Override
            public @org.jspecify.annotations.Nullable String tenantFor(String keyName) {
                return null;
            }
        };
    }

    /** A connector's Lucene directory, read through the KMS its settings name. */
    static void register(Path luceneDir, Map<String, String> connectorSettings) {
        Map<String, String> copy = Map.copyOf(connectorSettings);
        OPENERS.put(luceneDir.toAbsolutePath(), root -> {
            KmsProvider kms = KmsProviders.create(new LuceneSinkConfig(copy).keyringSettings());
            return LuceneIndexes.encrypted(root, kms, naming(root), 16 << 20, true);
        });
    }

    /** A store's Lucene directory written with a local KMS in {@code kmsDir}. */
    static void registerLocal(Path luceneDir, Path kmsDir) {
        OPENERS.put(
                luceneDir.toAbsolutePath(),
                root -> LuceneIndexes.encrypted(root, new LocalKms(kmsDir), naming(root), 16 << 20));
    }

    /** Fresh indexes over the directory (the caller closes them). */
    static LuceneIndexes open(Path luceneDir) {
        Function<Path, LuceneIndexes> opener = OPENERS.get(luceneDir.toAbsolutePath());
        if (opener == null) {
            throw new IllegalStateException(luceneDir + " was not registered with TestIndexes");
        }
        return opener.apply(luceneDir.toAbsolutePath());
    }

    static long count(Path luceneDir, String tenant) {
        try (LuceneIndexes i = open(luceneDir)) {
            return LuceneSearch.documentCount(i, tenant);
        }
    }

    static List<SearchHit> search(Path luceneDir, String tenant, float[] query, int k, int candidates) {
        try (LuceneIndexes i = open(luceneDir)) {
            return LuceneSearch.search(i, tenant, query, k, candidates);
        }
    }

    static List<SearchHit> exact(Path luceneDir, String tenant, float[] query, int k) {
        try (LuceneIndexes i = open(luceneDir)) {
            return LuceneSearch.exact(i, tenant, query, k);
        }
    }
}
