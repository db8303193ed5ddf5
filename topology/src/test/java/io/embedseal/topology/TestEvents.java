package io.embedseal.topology;

import io.embedseal.schemas.EmbeddingEvent;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** Embedding events for tests, and a check for a vector's bytes inside other bytes. */
final class TestEvents {

    private TestEvents() {}

    static EmbeddingEvent event(String tenant, String id, int dims, long seed) {
        Random random = new Random(seed);
        List<Float> vector = new ArrayList<>(dims);
        for (int i = 0; i < dims; i++) {
            vector.add(random.nextFloat() * 2 - 1);
        }
        return EmbeddingEvent.newBuilder()
                .setTenantId(tenant)
                .setEmbeddingId(id)
                .setModel("test-model-" + dims)
                .setVector(vector)
                .setMetadata(Map.of("source", "test"))
                .setEventTime(Instant.ofEpochMilli(1_700_000_000_000L + seed))
                .build();
    }

    static EmbeddingEvent withVector(EmbeddingEvent e, List<Float> vector) {
        return EmbeddingEvent.newBuilder(e).setVector(vector).build();
    }

    /**
     * True when {@code haystack} contains any four consecutive values of the vector, as float32 little- or
     * big-endian: a leak of any part of a vector longer than 4 values is found.
     */
    static boolean containsVectorBytes(byte[] haystack, List<Float> vector) {
        if (haystack == null || vector.size() < 4) {
            return false;
        }
        for (ByteOrder order : new ByteOrder[] {ByteOrder.LITTLE_ENDIAN, ByteOrder.BIG_ENDIAN}) {
            for (int start = 0; start + 4 <= vector.size(); start++) {
                ByteBuffer needle = ByteBuffer.allocate(16).order(order);
                for (int i = start; i < start + 4; i++) {
                    needle.putFloat(vector.get(i));
                }
                if (indexOf(haystack, needle.array()) >= 0) {
                    return true;
                }
            }
        }
        return false;
    }

    static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
