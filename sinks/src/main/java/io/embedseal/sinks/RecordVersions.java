package io.embedseal.sinks;

import io.embedseal.serdes.SealedRecordKey;
import io.embedseal.serdes.envelope.RecordVersion;
import org.jspecify.annotations.Nullable;

/**
 * The one rule every store applies before a record or a delete marker changes what it holds, given what it holds
 * for the key ({@link Held}).
 *
 * <ul>
 *   <li>Newer than what is held: applied.</li>
 *   <li>Older, or a record at the version of a delete the store holds (a delete wins a tie): if it comes from the
 *       same topic partition at or before the offset of what is held, it is Connect <em>redelivering</em> what the
 *       store already went past (after a restart or a rebalance: stores commit before Connect commits offsets), and is
 *       skipped and counted; otherwise it is a rollback, a late replay or a resurrection, and is refused
 *       ({@code STALE_VERSION}).</li>
 *   <li>Equal and of the same kind: the same record version again (a redelivery, a producer's retry, or a replay
 *       of the envelope the store holds, perhaps with the key slot it had before a re-wrap or a migration): skipped,
 *       so a replay cannot put back a key slot {@code keys rewrap} or {@code tenants migrate} replaced. Version-1
 *       envelopes (no version: all count as {@code 0.0}) are applied, as before.</li>
 * </ul>
 */
public final class RecordVersions {

    private RecordVersions() {}

    /**
     * What a store holds for a key.
     *
     * @param version   its record version
     * @param deleted   whether it is the tombstone of a delete marker
     * @param topic     the topic it came from
     * @param partition its partition
     * @param offset    its offset
     */
    public record Held(RecordVersion version, boolean deleted, String topic, int partition, long offset) {}

    /** What to do with an incoming record or delete marker. */
    public enum Verdict {
        APPLY,
        /** Already past it: a redelivery, skipped. */
        REDELIVERED
    }

    /**
     * @param held what the store holds for the key, or null for nothing
     * @throws RefusedRecordException {@code STALE_VERSION}, for a rollback, a late replay or a resurrection
     */
    public static Verdict check(StoredRecord incoming, boolean isDelete, @Nullable Held held) {
        if (held == null) {
            return Verdict.APPLY;
        }
        RecordVersion v = incoming.header().recordVersion();
        int order = v.compareTo(held.version());
        if (order > 0) {
            return Verdict.APPLY;
        }
        if (order == 0) {
            if (isDelete && !held.deleted()) {
                return Verdict.APPLY; // a delete wins a tie
            }
            if (isDelete == held.deleted()) {
                // The same record version again: applied only for version-1 envelopes, which carry none.
                return v.equals(RecordVersion.NONE) ? Verdict.APPLY : Verdict.REDELIVERED;
            }
        }
        if (redelivery(incoming, held)) {
            return Verdict.REDELIVERED;
        }
        throw stale(incoming.key(), v, held, isDelete);
    }

    private static boolean redelivery(StoredRecord incoming, Held held) {
        return incoming.sourceTopic().equals(held.topic())
                && incoming.sourcePartition() == held.partition()
                && incoming.sourceOffset() <= held.offset();
    }

    private static RefusedRecordException stale(
            SealedRecordKey key, RecordVersion incoming, Held held, boolean isDelete) {
        return new RefusedRecordException(
                RefusedRecordException.Reason.STALE_VERSION,
                (isDelete ? "a delete of " : "") + key + " at version " + incoming
                        + (incoming.equals(held.version())
                                ? " is no newer than the delete at version "
                                : " is older than version ")
                        + held.version() + ", which the store holds");
    }
}
