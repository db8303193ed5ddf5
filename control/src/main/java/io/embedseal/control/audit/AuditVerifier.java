package io.embedseal.control.audit;

import io.embedseal.control.TrustedSigners;
import java.security.PublicKey;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;

/**
 * Walks audit entries in the order they were read from one partition (a producer's chain lives in one partition,
 * keyed by the producer) and reports every producer's chain and the first broken link.
 *
 * <p>With trusted checkpoint signers it also checks authenticity: every {@code CHECKPOINT} entry must be signed by
 * one of them, which vouches for the whole chain up to it (the hash chain ties every earlier entry to it); nothing
 * may follow a {@code final} checkpoint; and {@link Result#problems} names chains that end without one (truncated,
 * or a producer that stopped without closing) and chains whose count differs from what the caller expected. Without
 * signers it checks the hash chains only, which anyone can recompute: that is the control, not a verification.
 */
public final class AuditVerifier {

    /** Where a chain broke. */
    public record Break(String producer, long offset, String problem) {}

    /**
     * One producer's chain.
     *
     * @param entries       entries read
     * @param checkpointed  the entries up to and including its last valid signed checkpoint
     * @param closed        its last checkpoint was final
     * @param lastSigned    when its last valid checkpoint was made (its signed time), or null
     * @param signer        the key id of its last valid checkpoint, or null
     */
    public record Chain(
            long entries,
            long checkpointed,
            boolean closed,
            @Nullable Instant lastSigned,
            @Nullable String signer) {}

    /** The outcome: chains, and breaks (empty when every chain holds). */
    public record Result(
            Map<String, Long> entriesByProducer,
            List<Break> breaks,
            Map<String, Chain> chains,
            boolean signaturesChecked,
            Map<String, Long> expected) {

        /** Every chain links up (and, when signatures were checked, every checkpoint verifies). */
        public boolean intact() {
            return breaks.isEmpty();
        }

        /**
         * What keeps the trail from being proven complete and genuine beyond {@link #breaks}: chains whose tail is
         * not covered by a signed checkpoint although their last checkpoint is older than {@code maxOpen} (an open
         * producer checkpoints every few seconds, and closes with a final one), and counts other than expected.
         */
        public List<String> problems(Instant now, Duration maxOpen) {
            // Producers sign a checkpoint when they start, at least every minute while open, and when they close.
            List<String> out = new ArrayList<>();
            expected.forEach((producer, n) -> {
                long seen = entriesByProducer.getOrDefault(producer, 0L);
                if (seen != n) {
                    out.add("chain " + producer + " has " + seen + " entries where " + n
                            + " were expected: truncated or extended");
                }
            });
            if (!signaturesChecked) {
                out.add("no trusted checkpoint signer was given: the hash chains were checked, which anyone can "
                        + "recompute, not the entries' authenticity");
                return out;
            }
            chains.forEach((producer, c) -> {
                if (c.closed()) {
                    return;
                }
                boolean stale = c.lastSigned() == null || c.lastSigned().isBefore(now.minus(maxOpen));
                if (stale) {
                    out.add("chain " + producer + " has no final checkpoint and "
                            + (c.lastSigned() == null
                                    ? "no signed checkpoint at all"
                                    : "its last signed checkpoint is from " + c.lastSigned())
                            + " (" + (c.entries() - c.checkpointed()) + " entries after it): truncated, "
                            + "forged, or its producer stopped without closing");
                }
            });
            return out;
        }
    }

    private final @Nullable TrustedSigners trusted;
    private final Map<String, String> roleOfSigner;
    private final Map<String, Long> lastSeq = new HashMap<>();
    private final Map<String, String> lastHash = new HashMap<>();
    private final Map<String, Long> counts = new TreeMap<>();
    private final Map<String, Chain> chains = new TreeMap<>();
    private final Map<String, Long> expected = new TreeMap<>();
    private final List<Break> breaks = new ArrayList<>();

    /** Hash chains only (anyone can recompute them): for the control in tests, and old trails. */
    public AuditVerifier() {
        this.trusted = null;
        this.roleOfSigner = Map.of();
    }

    /** Hash chains and signed checkpoints by one of {@code trusted}. */
    public AuditVerifier(TrustedSigners trusted) {
        this(trusted, Map.of());
    }

    /**
     * @param roleOfSigner the role ({@code pipeline}, {@code sink}, {@code operator}) of each trusted key id that
     *                     belongs to one: a chain's checkpoints must then be signed by its own role's key (chains
     *                     {@code cli-*} are the operator's, {@code sink-*} a sink's, others a pipeline's), so one
     *                     role's key cannot vouch for another's entries. Keys without a role vouch for any chain.
     */
    public AuditVerifier(TrustedSigners trusted, Map<String, String> roleOfSigner) {
        this.trusted = trusted;
        this.roleOfSigner = Map.copyOf(roleOfSigner);
    }

    /** The role whose key must sign a producer's checkpoints, by the producer id's prefix. */
    public static String roleOf(String producer) {
        if (producer.startsWith("cli-")) {
            return "operator";
        }
        if (producer.startsWith("sink-")) {
            return "sink";
        }
        return "pipeline";
    }

    /** The number of entries the caller knows a producer wrote (from its own records): a shorter chain is cut. */
    public AuditVerifier expect(String producer, long entries) {
        expected.put(producer, entries);
        return this;
    }

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
        Chain chain = chains.getOrDefault(producer, new Chain(0, 0, false, null, null));
        chain = new Chain(
                chain.entries() + 1, chain.checkpointed(), chain.closed(), chain.lastSigned(), chain.signer());
        chains.put(producer, chain);
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
        } else if (trusted != null && chain.closed()) {
            breaks.add(new Break(producer, offset, "an entry after the producer's final checkpoint (appended)"));
        } else if (trusted != null && AuditChain.CHECKPOINT.equals(entry.get("kind"))) {
            String problem = checkCheckpoint(entry, producer);
            if (problem != null) {
                breaks.add(new Break(producer, offset, problem));
            } else {
                chains.put(
                        producer,
                        new Chain(
                                chain.entries(),
                                chain.entries(),
                                Boolean.TRUE.equals(entry.get("final")),
                                signedTime(entry),
                                String.valueOf(entry.get("signer"))));
            }
        }
        lastSeq.put(producer, seq);
        lastHash.put(producer, String.valueOf(entry.get("hash")));
    }

    private @Nullable String checkCheckpoint(SortedMap<String, Object> entry, String producer) {
        if (!(entry.get("signer") instanceof String signer) || !(entry.get("signature") instanceof String sig)) {
            return "a checkpoint without a signer or signature";
        }
        PublicKey key = trusted == null ? null : trusted.get(signer);
        if (key == null) {
            return "a checkpoint signed by key " + signer + ", which is not trusted to sign audit checkpoints";
        }
        String role = roleOfSigner.get(signer);
        if (role != null && !role.equals(roleOf(producer))) {
            return "a checkpoint signed by the " + role + " key on a " + roleOf(producer) + "'s chain";
        }
        byte[] signature;
        try {
            signature = Base64.getDecoder().decode(sig);
        } catch (IllegalArgumentException e) {
            return "a checkpoint whose signature is not base64";
        }
        if (!AuditSigner.verify(key, AuditChain.canonical(entry), signature)) {
            return "a checkpoint whose signature does not verify (the chain up to it was altered)";
        }
        return null;
    }

    private static @Nullable Instant signedTime(SortedMap<String, Object> entry) {
        try {
            return entry.get("time") instanceof String t ? Instant.parse(t) : null;
        } catch (DateTimeParseException e) {
            return null;
        }
    }

    public Result result() {
        return new Result(
                new TreeMap<>(counts),
                List.copyOf(breaks),
                new TreeMap<>(chains),
                trusted != null,
                Map.copyOf(expected));
    }
}
