package io.embedseal.keyring.kms.decorator;

import io.embedseal.keyring.kms.KmsOperation;
import io.embedseal.keyring.kms.KmsOutcome;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.LongAdder;

/** An in-memory {@link KmsObserver}: counts and total time per provider, operation and outcome. */
public final class KmsCallStats implements KmsObserver {

    /** One counter's key. */
    public record Key(String provider, KmsOperation operation, KmsOutcome outcome) implements Comparable<Key> {
        @Override
        public int compareTo(Key o) {
            int c = provider.compareTo(o.provider);
            if (c == 0) {
                c = operation.compareTo(o.operation);
            }
            return c == 0 ? outcome.compareTo(o.outcome) : c;
        }
    }

    private final ConcurrentMap<Key, LongAdder[]> counters = new ConcurrentHashMap<>();

    @Override
    public void onCall(String provider, KmsOperation operation, KmsOutcome outcome, long nanos) {
        LongAdder[] c = counters.computeIfAbsent(
                new Key(provider, operation, outcome), k -> new LongAdder[] {new LongAdder(), new LongAdder()});
        c[0].increment();
        c[1].add(nanos);
    }

    /** Calls of one operation, whatever the outcome. */
    public long calls(KmsOperation operation) {
        return counters.entrySet().stream()
                .filter(e -> e.getKey().operation() == operation)
                .mapToLong(e -> e.getValue()[0].sum())
                .sum();
    }

    /** Calls of one operation that ended with one outcome. */
    public long calls(KmsOperation operation, KmsOutcome outcome) {
        return counters.entrySet().stream()
                .filter(e -> e.getKey().operation() == operation && e.getKey().outcome() == outcome)
                .mapToLong(e -> e.getValue()[0].sum())
                .sum();
    }

    /** Every call, all operations and outcomes. */
    public long totalCalls() {
        return counters.values().stream().mapToLong(c -> c[0].sum()).sum();
    }

    /** Calls that did not end {@link KmsOutcome#OK}. */
    public long errors() {
        return counters.entrySet().stream()
                .filter(e -> e.getKey().outcome() != KmsOutcome.OK)
                .mapToLong(e -> e.getValue()[0].sum())
                .sum();
    }

    /** A sorted snapshot: key -> {count, total nanoseconds}. */
    public Map<Key, long[]> snapshot() {
        Map<Key, long[]> out = new TreeMap<>();
        counters.forEach((k, v) -> out.put(k, new long[] {v[0].sum(), v[1].sum()}));
        return out;
    }
}
