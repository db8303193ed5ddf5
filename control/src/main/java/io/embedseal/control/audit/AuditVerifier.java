package io.embedseal.control.audit;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * Walks audit entries in the order they were read from one partition (a producer's chain lives in one
 * partition, keyed by the producer) and reports every producer's chain and the first broken link.
 */
public final class AuditVerifier {

    /** Where a chain broke. */
    public record Break(String producer, long offset, String problem) {}

    /** The outcome: entries checked per producer, and breaks (empty when every chain holds). */
    public record Result(Map<String, Long> entriesByProducer, List<Break> breaks) {
        public boolean intact() {
            return breaks.isEmpty();
        }
    }

    private final Map<String, Long> lastSeq = new HashMap<>();
    private final Map<String, String> lastHash = new HashMap<>();
    private final Map<String, Long> counts = new TreeMap<>();
    private final List<Break> breaks = new ArrayList<>();

    /** Checks the next entry, read at {@code offset}. */
    public void accept(long offset, byte[] value) {
        SortedMap<String, Object> entry = value == null ? null : AuditChain.parse(value);
        if (entry == null
                || !(entry.get("producer") instanceof String producer)
                || !(entry.get("seq") instanceof Number seqNumber)) {
            breaks.add(new Break("?", offset, "not an audit entry"));
            return;
        }
        long seq = seqNumber.longValue();
        counts.merge(producer, 1L, Long::sum);
        if (breaks.stream().anyMatch(b -> b.producer().equals(producer))) {
            return; // report the first broken link of each chain only
        }
        String expectedPrev = lastHash.getOrDefault(producer, AuditChain.GENESIS);
        long expectedSeq = lastSeq.getOrDefault(producer, 0L) + 1;
        if (seq != expectedSeq) {
            breaks.add(new Break(
                    producer,
                    offset,
                    "seq " + seq + " where " + expectedSeq + " was due (an entry is missing or moved)"));
        } else if (!expectedPrev.equals(entry.get("prevHash"))) {
            breaks.add(new Break(producer, offset, "prevHash does not match the previous entry's hash"));
        } else if (!AuditChain.hash(entry).equals(entry.get("hash"))) {
            breaks.add(new Break(producer, offset, "hash does not match the entry's content (altered)"));
        }
        lastSeq.put(producer, seq);
        lastHash.put(producer, String.valueOf(entry.get("hash")));
    }

    public Result result() {
        return new Result(new TreeMap<>(counts), List.copyOf(breaks));
    }
}
