package io.embedseal.demo;

import dev.langchain4j.data.segment.TextSegment;
import dev.langchain4j.model.embedding.onnx.allminilml6v2.AllMiniLmL6V2EmbeddingModel;
import io.embedseal.schemas.EmbeddingEvent;
import io.embedseal.testkit.EuroparlSentences;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * The demo's embeddings: real sentences (English proceedings of the European Parliament, from the Europarl sample that
 * Lucene's test framework ships), dealt out to the tenants and embedded in-process with all-MiniLM-L6-v2 (384
 * dimensions, ONNX Runtime, no download), so that each tenant's final search is a question a reader can judge.
 */
final class DemoEmbeddings {

    static final String MODEL = "all-MiniLM-L6-v2";
    static final int DIMENSIONS = 384;

    /** One question per tenant, in order (the fifth and later tenants reuse them). */
    static final List<String> QUESTIONS = List.of(
            "fishing quotas and the future of fishermen",
            "human rights and democracy in third countries",
            "the single currency and economic growth",
            "food safety and the protection of consumers",
            "road safety and transport");

    private final AllMiniLmL6V2EmbeddingModel model = new AllMiniLmL6V2EmbeddingModel();
    private final Map<String, List<String>> texts = new HashMap<>();
    private final Map<String, List<float[]>> vectors = new HashMap<>();
    private final double seconds;

    /**
     * Reads and embeds {@code perTenant} sentences for each tenant (disjoint slices).
     *
     * @throws IllegalArgumentException if the corpus has fewer English sentences than asked for
     */
    DemoEmbeddings(List<String> tenants, int perTenant) {
        int wanted = tenants.size() * perTenant;
        List<String> english = new ArrayList<>();
        for (String s : EuroparlSentences.read(30, 200, got -> false)) {
            if (EuroparlSentences.english(s)) {
                english.add(s);
                if (english.size() == wanted) {
                    break;
                }
            }
        }
        if (english.size() < wanted) {
            throw new IllegalArgumentException("the demo's corpus has " + english.size() + " English sentences, "
                    + "fewer than --tenants x --records (" + wanted + "): ask for fewer, or use --synthetic-vectors");
        }
        long t0 = System.nanoTime();
        for (int t = 0; t < tenants.size(); t++) {
            List<String> mine = new ArrayList<>();
            for (int i = 0; i < perTenant; i++) {
                mine.add(english.get(i * tenants.size() + t));
            }
            texts.put(tenants.get(t), mine);
            vectors.put(tenants.get(t), embed(mine));
        }
        this.seconds = (System.nanoTime() - t0) / 1e9;
    }

    private List<float[]> embed(List<String> sentences) {
        List<float[]> out = new ArrayList<>(sentences.size());
        for (int from = 0; from < sentences.size(); from += 128) {
            List<TextSegment> batch = sentences.subList(from, Math.min(sentences.size(), from + 128)).stream()
                    .map(TextSegment::from)
                    .toList();
            model.embedAll(batch).content().forEach(e -> out.add(e.vector()));
        }
        return out;
    }

    float[] embed(String text) {
        return model.embed(text).content().vector();
    }

    /** Seconds spent embedding the corpus. */
    double seconds() {
        return seconds;
    }

    static String question(int tenantIndex) {
        return QUESTIONS.get(tenantIndex % QUESTIONS.size());
    }

    /** The sentence behind a tenant's embedding id, or null. */
    @Nullable
    String text(String tenant, String embeddingId) {
        int index = indexOf(embeddingId);
        List<String> mine = texts.get(tenant);
        return mine == null || index < 0 || index >= mine.size() ? null : mine.get(index);
    }

    static String embeddingId(int index) {
        return String.format(java.util.Locale.ROOT, "doc-%06d#chunk-%d", index / 4, index % 4);
    }

    private static int indexOf(String embeddingId) {
        try {
            int hash = embeddingId.indexOf("#chunk-");
            return Integer.parseInt(embeddingId.substring(4, hash)) * 4
                    + Integer.parseInt(embeddingId.substring(hash + 7));
        } catch (RuntimeException e) {
            return -1;
        }
    }

    EmbeddingEvent event(String tenant, int index) {
        float[] v =
                java.util.Objects.requireNonNull(vectors.get(tenant), tenant).get(index);
        List<Float> list = new ArrayList<>(v.length);
        for (float f : v) {
            list.add(f);
        }
        return EmbeddingEvent.newBuilder()
                .setTenantId(tenant)
                .setEmbeddingId(embeddingId(index))
                .setModel(MODEL)
                .setVector(list)
                .setMetadata(Map.of("source", "europarl", "chunk", Integer.toString(index % 4)))
                .setEventTime(Instant.now())
                .build();
    }
}
